package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/testdb"
)

// apiPackage is the proto package whose services the message tests cover.
const apiPackage = "handybind.v1"

// someID is a well-formed UUID that names nothing; validation refuses a request before any lookup.
const someID = "01a21a0f-eea7-7b10-aca4-8d13cd1b39d4"

// Sentences the API answers with, shared by many cases.
const (
	mustBeUUID  = "must be a UUID, such as 01900000-0000-7000-8000-000000000001"
	needsUUID   = "is required: a UUID, such as 01900000-0000-7000-8000-000000000001"
	mustBeURL   = "must be an absolute http or https URL"
	mustBeVer   = "must be a version such as v1 or v2"
	mustBeTen   = "must be a tenant name: lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63 characters"
	pageOf500   = "must be greater than or equal to 0 and less than or equal to 500"
	pageOf1000  = "must be greater than or equal to 0 and less than or equal to 1000"
	notEmpty    = "must not be empty"
	mustBeName  = "must be a mapping name such as handy-bind: lower-case letters, digits and '-', starting with a letter, at most 63 characters"
	mapRefOneOf = "is required: one of version or source"
)

// messageCase is one request that breaks one buf.validate rule of one field.
type messageCase struct {
	req   proto.Message // sent over gRPC to the method that takes it
	field string        // the BadRequest field path the answer must name
	rule  string        // the rule broken, as ruleKeys names it
	want  string        // the field violation's description, word for word
	note  string        // tells apart cases that break the same rule, in the test's name
	// platform sends the call with a platform key, for methods other roles may not call.
	platform bool
	// rest, when set, sends the same bad request over REST too.
	rest *restCall
}

// restCall is the REST form of a case's request.
type restCall struct{ method, path, body string }

// key names the rule a case breaks, as the coverage walk names the rules it finds.
func (c messageCase) key() string {
	return ruleKey(c.req.ProtoReflect().Descriptor().FullName(), c.field, c.rule)
}

func ruleKey(msg protoreflect.FullName, field, rule string) string {
	return fmt.Sprintf("%s %s (%s)", msg.Name(), field, rule)
}

func chars(n int) string { return strings.Repeat("a", n) }

// messageCases holds one case (or more) for every rule of every request field, including the fields
// of nested messages: TestEveryValidationRuleHasAMessageCase fails for a rule without one.
func messageCases() []messageCase {
	// Rules of a connection's fields, which CreateConnection and UpdateConnection both check.
	type connCase struct {
		field, rule, want string
		set               func(c *pb.Connection)
		json              string // the connection as a REST body, when the case also goes over REST
	}
	connCases := []connCase{
		{"id", "string.uuid", mustBeUUID, func(c *pb.Connection) { c.Id = "42" }, ""},
		{"display_name", "string.max_len", "must be at most 200 characters", func(c *pb.Connection) { c.DisplayName = chars(201) }, `{"displayName":"` + chars(201) + `"}`},
		{"handy.base_url", "string.max_len", "must be at most 2048 characters", func(c *pb.Connection) { c.Handy = &pb.HandyCredentials{BaseUrl: "https://" + chars(2041)} }, ""},
		{"handy.base_url", "base_url.http", mustBeURL, func(c *pb.Connection) { c.Handy = &pb.HandyCredentials{BaseUrl: "hub.handy.la/api/v2"} }, ""},
		{"handy.token", "string.max_len", "must be at most 4096 characters", func(c *pb.Connection) { c.Handy = &pb.HandyCredentials{Token: chars(4097)} }, ""},
		{"bind.base_url", "string.max_len", "must be at most 2048 characters", func(c *pb.Connection) { c.Bind = &pb.BindCredentials{BaseUrl: "https://" + chars(2041)} }, ""},
		{"bind.base_url", "base_url.http", mustBeURL, func(c *pb.Connection) { c.Bind = &pb.BindCredentials{BaseUrl: "ftp://api.bind.com.mx"} }, `{"displayName":"x","bind":{"baseUrl":"ftp://api.bind.com.mx"}}`},
		{"bind.user_name", "string.max_len", "must be at most 200 characters", func(c *pb.Connection) { c.Bind = &pb.BindCredentials{UserName: chars(201)} }, ""},
		{"bind.token", "string.max_len", "must be at most 4096 characters", func(c *pb.Connection) { c.Bind = &pb.BindCredentials{Token: chars(4097)} }, ""},
		{"settings.price_list", "string.max_len", "must be at most 200 characters", func(c *pb.Connection) { c.Settings = &pb.ConnectionSettings{PriceList: chars(201)} }, ""},
		{"settings.currency", "string.max_len", "must be at most 20 characters", func(c *pb.Connection) { c.Settings = &pb.ConnectionSettings{Currency: chars(21)} }, `{"displayName":"x","settings":{"currency":"` + chars(21) + `"}}`},
		{"settings.warehouse", "string.max_len", "must be at most 200 characters", func(c *pb.Connection) { c.Settings = &pb.ConnectionSettings{Warehouse: chars(201)} }, ""},
		{"settings.ledger_account", "string.max_len", "must be at most 100 characters", func(c *pb.Connection) { c.Settings = &pb.ConnectionSettings{LedgerAccount: chars(101)} }, ""},
		{"settings.time_zone", "string.max_len", "must be at most 64 characters", func(c *pb.Connection) { c.Settings = &pb.ConnectionSettings{TimeZone: chars(65)} }, ""},
		{"mapping_version", "string.pattern", mustBeVer, func(c *pb.Connection) { c.MappingVersion = "../v1" }, `{"displayName":"x","mappingVersion":"../v1"}`},
		{"tenant", "string.pattern", mustBeTen, func(c *pb.Connection) { c.Tenant = "Acme Corp" }, `{"displayName":"x","tenant":"Acme Corp"}`},
	}
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

	// A case has a REST form where the gateway lets the bad value reach validation. It does not for
	// an enum number in a query string that names no value (the gateway's parser refuses it), nor
	// for a missing body message or update mask (the gateway always fills them), nor for an empty
	// path segment: those cases go over gRPC only.
	cases := []messageCase{
		// ConnectionService.
		{req: &pb.CreateConnectionRequest{}, field: "connection", rule: "required", want: "is required"},
		{req: &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "  "}}, field: "connection.display_name", rule: "connection.display_name.required", want: "is required",
			rest: &restCall{http.MethodPost, "/v1/connections", `{"displayName":"  "}`}},
		{req: &pb.UpdateConnectionRequest{UpdateMask: mask("display_name")}, field: "connection", rule: "required", want: "is required"},
		{req: &pb.UpdateConnectionRequest{Connection: &pb.Connection{Id: someID}}, field: "update_mask", rule: "required", want: "is required"},
		{req: &pb.UpdateConnectionRequest{Connection: &pb.Connection{DisplayName: "x"}, UpdateMask: mask("display_name")}, field: "connection.id", rule: "connection.id.required", want: "is required"},
		{req: &pb.GetConnectionRequest{Id: "42"}, field: "id", rule: "string.uuid", want: mustBeUUID, rest: &restCall{http.MethodGet, "/v1/connections/42", ""}},
		{req: &pb.GetConnectionRequest{}, field: "id", rule: "string.uuid", want: needsUUID, note: "empty"},
		{req: &pb.DeleteConnectionRequest{Id: "42"}, field: "id", rule: "string.uuid", want: mustBeUUID, rest: &restCall{http.MethodDelete, "/v1/connections/42", ""}},
		{req: &pb.ActivateConnectionRequest{Id: "42"}, field: "id", rule: "string.uuid", want: mustBeUUID, rest: &restCall{http.MethodPost, "/v1/connections/42:activate", `{}`}},
		{req: &pb.PauseConnectionRequest{Id: "42"}, field: "id", rule: "string.uuid", want: mustBeUUID, rest: &restCall{http.MethodPost, "/v1/connections/42:pause", `{}`}},
		{req: &pb.ListConnectionsRequest{PageSize: -1}, field: "page_size", rule: "int32.gte", want: pageOf500},
		{req: &pb.ListConnectionsRequest{PageSize: 501}, field: "page_size", rule: "int32.lte", want: pageOf500, rest: &restCall{http.MethodGet, "/v1/connections?pageSize=501", ""}},
		{req: &pb.ListConnectionsRequest{PageToken: chars(513)}, field: "page_token", rule: "string.max_len", want: "must be at most 512 characters"},
		{req: &pb.ListConnectionsRequest{State: 9}, field: "state", rule: "enum.defined_only", want: "must be draft, active, paused or error"},
		{req: &pb.ListConnectionsRequest{Tenant: "Acme Corp"}, field: "tenant", rule: "string.pattern", want: mustBeTen, rest: &restCall{http.MethodGet, "/v1/connections?tenant=" + url.QueryEscape("Acme Corp"), ""}},

		// RunService.
		{req: &pb.TriggerSyncRequest{ConnectionId: "42", Kind: pb.SyncKind_SYNC_KIND_SALES}, field: "connection_id", rule: "string.uuid", want: mustBeUUID,
			rest: &restCall{http.MethodPost, "/v1/connections/42/runs", `{"kind":"SYNC_KIND_SALES"}`}},
		{req: &pb.TriggerSyncRequest{Kind: pb.SyncKind_SYNC_KIND_SALES}, field: "connection_id", rule: "string.uuid", want: needsUUID, note: "empty"},
		{req: &pb.TriggerSyncRequest{ConnectionId: someID}, field: "kind", rule: "enum.not_in", want: "is required: products, sales or deleted_sales",
			rest: &restCall{http.MethodPost, "/v1/connections/" + someID + "/runs", `{}`}},
		{req: &pb.TriggerSyncRequest{ConnectionId: someID, Kind: 9}, field: "kind", rule: "enum.defined_only", want: "must be products, sales or deleted_sales",
			rest: &restCall{http.MethodPost, "/v1/connections/" + someID + "/runs", `{"kind":9}`}},
		{req: &pb.GetRunRequest{Id: "42"}, field: "id", rule: "string.uuid", want: mustBeUUID, rest: &restCall{http.MethodGet, "/v1/runs/42", ""}},
		{req: &pb.GetRunRequest{}, field: "id", rule: "string.uuid", want: needsUUID, note: "empty"},
		{req: &pb.ListRunsRequest{ConnectionId: "42"}, field: "connection_id", rule: "string.uuid", want: mustBeUUID, rest: &restCall{http.MethodGet, "/v1/connections/42/runs", ""}},
		{req: &pb.ListRunsRequest{ConnectionId: someID, PageSize: -1}, field: "page_size", rule: "int32.gte", want: pageOf500},
		{req: &pb.ListRunsRequest{ConnectionId: someID, PageSize: 501}, field: "page_size", rule: "int32.lte", want: pageOf500},
		{req: &pb.ListRunsRequest{ConnectionId: someID, PageToken: chars(513)}, field: "page_token", rule: "string.max_len", want: "must be at most 512 characters"},
		{req: &pb.ListRunsRequest{ConnectionId: someID, Kind: 9}, field: "kind", rule: "enum.defined_only", want: "must be products, sales or deleted_sales"},
		{req: &pb.ListRunsRequest{ConnectionId: someID, State: 99}, field: "state", rule: "enum.defined_only", want: "must be queued, running, succeeded, partial, failed, abandoned or interrupted"},
		{req: &pb.ListRunItemsRequest{RunId: "42"}, field: "run_id", rule: "string.uuid", want: mustBeUUID, rest: &restCall{http.MethodGet, "/v1/runs/42/items", ""}},
		{req: &pb.ListRunItemsRequest{RunId: someID, PageSize: -1}, field: "page_size", rule: "int32.gte", want: pageOf1000},
		{req: &pb.ListRunItemsRequest{RunId: someID, PageSize: 1001}, field: "page_size", rule: "int32.lte", want: pageOf1000},
		{req: &pb.ListRunItemsRequest{RunId: someID, PageToken: chars(513)}, field: "page_token", rule: "string.max_len", want: "must be at most 512 characters"},
		{req: &pb.ListRunItemsRequest{RunId: someID, Outcome: 99}, field: "outcome", rule: "enum.defined_only", want: "must be created, updated, unchanged, deleted, skipped, failed or waiting"},
		{req: &pb.ListRunItemsRequest{RunId: someID, Entity: 9}, field: "entity", rule: "enum.defined_only", want: "must be product, customer or sale"},

		// MappingService.
		{req: &pb.GetMappingRequest{Version: "v1"}, field: "name", rule: "string.pattern", want: mustBeName, note: "empty"},
		{req: &pb.GetMappingRequest{Name: "Handy_Bind", Version: "v1"}, field: "name", rule: "string.pattern", want: mustBeName,
			rest: &restCall{http.MethodGet, "/v1/mappings/Handy_Bind/versions/v1", ""}},
		{req: &pb.GetMappingRequest{Name: "handy-bind", Version: "v1", Tenant: "Acme Corp"}, field: "tenant", rule: "string.pattern", want: mustBeTen},
		{req: &pb.CreateMappingVersionRequest{Mapping: "handy bind", Source: "x"}, field: "mapping", rule: "string.pattern", want: mustBeName,
			rest: &restCall{http.MethodPost, "/v1/mappings/handy%20bind/versions", `{"source":"x"}`}},
		{req: &pb.CreateMappingVersionRequest{Mapping: "handy-bind"}, field: "source", rule: "string.min_len", want: notEmpty,
			rest: &restCall{http.MethodPost, "/v1/mappings/handy-bind/versions", `{}`}},
		{req: &pb.CreateMappingVersionRequest{Mapping: "handy-bind", Source: chars(1<<20 + 1)}, field: "source", rule: "string.max_bytes", want: "must be at most 1048576 bytes"},
		{req: &pb.ListMappingsRequest{Tenant: "Acme"}, field: "tenant", rule: "string.pattern", want: mustBeTen,
			rest: &restCall{http.MethodGet, "/v1/mappings?tenant=Acme", ""}},
		{req: &pb.DeprecateMappingVersionRequest{Name: "Handy", Version: "v3"}, field: "name", rule: "string.pattern", want: mustBeName},
		{req: &pb.DeprecateMappingVersionRequest{Name: "handy-bind", Version: "3"}, field: "version", rule: "string.pattern", want: mustBeVer,
			rest: &restCall{http.MethodPost, "/v1/mappings/handy-bind/versions/3:deprecate", `{}`}},
		{req: &pb.DeprecateMappingVersionRequest{Name: "handy-bind", Version: "v3", Tenant: "-x"}, field: "tenant", rule: "string.pattern", want: mustBeTen},
		{req: &pb.DeleteMappingVersionRequest{Name: "Handy", Version: "v3"}, field: "name", rule: "string.pattern", want: mustBeName},
		{req: &pb.DeleteMappingVersionRequest{Name: "handy-bind", Version: "v0"}, field: "version", rule: "string.pattern", want: mustBeVer,
			rest: &restCall{http.MethodDelete, "/v1/mappings/handy-bind/versions/v0", ""}},
		{req: &pb.DeleteMappingVersionRequest{Name: "handy-bind", Version: "v3", Tenant: "Acme"}, field: "tenant", rule: "string.pattern", want: mustBeTen},
		{req: &pb.CompareMappingRequest{Id: "42", Version: "v3"}, field: "id", rule: "string.uuid", want: mustBeUUID,
			rest: &restCall{http.MethodPost, "/v1/connections/42:compareMapping", `{"version":"v3"}`}},
		{req: &pb.CompareMappingRequest{Id: someID, Version: "3"}, field: "version", rule: "string.pattern", want: mustBeVer},
		{req: &pb.CompareMappingRequest{Id: someID, Version: "v3", SampleSize: -1}, field: "sample_size", rule: "int32.gte", want: "must be greater than or equal to 0 and less than or equal to 50"},
		{req: &pb.CompareMappingRequest{Id: someID, Version: "v3", SampleSize: 51}, field: "sample_size", rule: "int32.lte", want: "must be greater than or equal to 0 and less than or equal to 50",
			rest: &restCall{http.MethodPost, "/v1/connections/" + someID + ":compareMapping", `{"version":"v3","sampleSize":51}`}},
		{req: &pb.GetMappingRequest{Name: "handy-bind", Version: "1"}, field: "version", rule: "string.pattern", want: mustBeVer,
			rest: &restCall{http.MethodGet, "/v1/mappings/handy-bind/versions/1", ""}},
		{req: &pb.ValidateMappingRequest{}, field: "source", rule: "string.min_len", want: notEmpty, rest: &restCall{http.MethodPost, "/v1/mappings:validate", `{}`}},
		{req: &pb.ValidateMappingRequest{Source: chars(1<<20 + 1)}, field: "source", rule: "string.max_len", want: "must be at most 1048576 characters"},
		{req: &pb.TestMappingRequest{}, field: "mapping", rule: "required", want: "is required", rest: &restCall{http.MethodPost, "/v1/mappings:test", `{}`}},
		{req: &pb.PreviewMappingRequest{Target: "product", InputJson: "{}"}, field: "mapping", rule: "required", want: "is required",
			rest: &restCall{http.MethodPost, "/v1/mappings:preview", `{"target":"product","inputJson":"{}"}`}},
		{req: &pb.PreviewMappingRequest{Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v1"}}, Target: "invoice", InputJson: "{}"},
			field: "target", rule: "string.in", want: "must be product, client, order, order_line or warehouse",
			rest: &restCall{http.MethodPost, "/v1/mappings:preview", `{"mapping":{"version":"v1"},"target":"invoice","inputJson":"{}"}`}},
		{req: &pb.PreviewMappingRequest{Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v1"}}, Target: "product", InputJson: "x"},
			field: "input_json", rule: "string.min_len", want: "must be at least 2 characters"},
		{req: &pb.PreviewMappingRequest{Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v1"}}, Target: "product", InputJson: chars(1<<20 + 1)},
			field: "input_json", rule: "string.max_len", want: "must be at most 1048576 characters"},

		// AuditService, which only platform keys may call.
		{req: &pb.ListAuditEventsRequest{PageSize: -1}, field: "page_size", rule: "int32.gte", want: pageOf500, platform: true},
		{req: &pb.ListAuditEventsRequest{PageSize: 501}, field: "page_size", rule: "int32.lte", want: pageOf500, platform: true,
			rest: &restCall{http.MethodGet, "/v1/audit-events?pageSize=501", ""}},
		{req: &pb.ListAuditEventsRequest{PageToken: chars(513)}, field: "page_token", rule: "string.max_len", want: "must be at most 512 characters", platform: true},
		{req: &pb.ListAuditEventsRequest{Tenant: "Acme Corp"}, field: "tenant", rule: "string.pattern", want: mustBeTen, platform: true,
			rest: &restCall{http.MethodGet, "/v1/audit-events?tenant=" + url.QueryEscape("Acme Corp"), ""}},
	}

	for _, cc := range connCases {
		created := &pb.Connection{DisplayName: "x"}
		cc.set(created)
		c := messageCase{req: &pb.CreateConnectionRequest{Connection: created}, field: "connection." + cc.field, rule: cc.rule, want: cc.want}
		if cc.json != "" {
			c.rest = &restCall{http.MethodPost, "/v1/connections", cc.json}
		}
		cases = append(cases, c)

		updated := &pb.Connection{Id: someID, DisplayName: "x"}
		cc.set(updated)
		u := messageCase{req: &pb.UpdateConnectionRequest{Connection: updated, UpdateMask: mask("display_name")}, field: "connection." + cc.field, rule: cc.rule, want: cc.want}
		if cc.field == "id" {
			u.rest = &restCall{http.MethodPatch, "/v1/connections/42", `{"displayName":"x"}`}
		}
		cases = append(cases, u)
	}

	// Rules of a mapping reference, which TestMapping and PreviewMapping both check.
	refCases := []struct {
		field, rule, want string
		ref               *pb.MappingRef
		json              string
	}{
		{"mapping.ref", "required", mapRefOneOf, &pb.MappingRef{}, `{"mapping":{}}`},
		{"mapping.version", "string.pattern", mustBeVer, &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "latest"}}, `{"mapping":{"version":"latest"}}`},
		{"mapping.source", "string.min_len", notEmpty, &pb.MappingRef{Ref: &pb.MappingRef_Source{}}, ""},
		{"mapping.source", "string.max_len", "must be at most 1048576 characters", &pb.MappingRef{Ref: &pb.MappingRef_Source{Source: chars(1<<20 + 1)}}, ""},
		{"mapping.name", "string.max_len", "must be at most 100 characters", &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v1"}, Name: chars(101)}, ""},
	}
	for _, rc := range refCases {
		c := messageCase{req: &pb.TestMappingRequest{Mapping: rc.ref}, field: rc.field, rule: rc.rule, want: rc.want}
		if rc.json != "" {
			c.rest = &restCall{http.MethodPost, "/v1/mappings:test", rc.json}
		}
		cases = append(cases, c,
			messageCase{req: &pb.PreviewMappingRequest{Mapping: proto.CloneOf(rc.ref), Target: "product", InputJson: "{}"}, field: rc.field, rule: rc.rule, want: rc.want})
	}
	return cases
}

// TestInvalidRequestsSayWhatIsWrong sends, for every rule of every request field, a request that
// breaks it, and checks that the caller learns which field and, in words, what it must be: a
// BadRequest field violation over gRPC, and the same over REST as JSON.
func TestInvalidRequestsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	platform := dial(t, h.srv.GRPCAddr(), h.platformKey)
	methods := methodsByInput(t)
	ctx := context.Background()

	for _, tc := range messageCases() {
		name := strings.ReplaceAll(tc.key(), " ", "/")
		if tc.note != "" {
			name += "/" + tc.note
		}
		t.Run(name, func(t *testing.T) {
			in := tc.req.ProtoReflect().Descriptor()
			require.NotEmpty(t, methods[in.FullName()], "no method of %s takes %s", apiPackage, in.FullName())
			conn := h.conn
			if tc.platform {
				conn = platform
			}
			for _, md := range methods[in.FullName()] {
				out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
				require.NoError(t, err)
				full := fmt.Sprintf("/%s/%s", md.Parent().FullName(), md.Name())
				err = conn.Invoke(ctx, full, tc.req, out.New().Interface())

				st := status.Convert(err)
				require.Equal(t, codes.InvalidArgument, st.Code(), "%s: %s", full, st.Message())
				require.Contains(t, st.Message(), tc.field+": "+tc.want, "the status message names the field and says what is wrong")
				got := map[string][]string{}
				for _, d := range st.Details() {
					if br, ok := d.(*errdetails.BadRequest); ok {
						for _, v := range br.GetFieldViolations() {
							require.NotEmpty(t, v.GetField(), "a field violation without a path: %s", st.Message())
							requirePlainWords(t, v.GetDescription())
							got[v.GetField()] = append(got[v.GetField()], v.GetDescription())
						}
					}
				}
				require.Contains(t, got, tc.field, "no field violation names %s: %s", tc.field, st.Message())
				require.Contains(t, got[tc.field], tc.want, "the field violation of %s", tc.field)
			}
			if tc.rest != nil {
				key := h.key
				if tc.platform {
					key = h.platformKey
				}
				checkRESTViolation(t, h.doAs(t, key, tc.rest.method, tc.rest.path, tc.rest.body), jsonNames(t, tc.req, tc.field), tc.want)
			}
		})
	}
}

// engineWords are marks of a sentence written for the validation engine's authors rather than for
// a caller: regular expressions, CEL, Go-style lists, enum numbers, the oneof's own name.
var engineWords = []string{"regex", "pattern `", "list [", "enum value", "oneof", "this.", "value is empty"}

// requirePlainWords fails for a field violation's description that reads like engine internals,
// whichever rule (of a case or not) produced it.
func requirePlainWords(t *testing.T, desc string) {
	t.Helper()
	require.NotEmpty(t, desc)
	for _, w := range engineWords {
		require.NotContains(t, desc, w, "a sentence a caller cannot use")
	}
}

// jsonNames is the path of proto field names path, in the request message req, as a REST caller
// names it: each field's JSON name as the descriptor gives it, indexes and keys as they are.
func jsonNames(t *testing.T, req proto.Message, path string) string {
	t.Helper()
	md := req.ProtoReflect().Descriptor()
	var out []string
	for seg := range strings.SplitSeq(path, ".") {
		name, rest, _ := strings.Cut(seg, "[")
		if rest != "" {
			rest = "[" + rest
		}
		require.NotNil(t, md, "%s: %s is inside a field that is not a message", path, seg)
		if md.Oneofs().ByName(protoreflect.Name(name)) != nil {
			// A oneof's rule names the oneof, which JSON does not name: it stays.
			out, md = append(out, seg), nil
			continue
		}
		fd := md.Fields().ByName(protoreflect.Name(name))
		require.NotNil(t, fd, "%s: %s has no field %s", path, md.FullName(), name)
		out = append(out, fd.JSONName()+rest)
		switch {
		case fd.IsMap():
			md = fd.MapValue().Message()
		default:
			md = fd.Message()
		}
	}
	return strings.Join(out, ".")
}

// checkRESTViolation checks that a REST answer is 400 and says, in its message and in its
// google.rpc.BadRequest detail, which field is wrong and what it must be.
func checkRESTViolation(t *testing.T, res restResponse, field, want string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, res.status, res.raw)
	require.Contains(t, res.body["message"], field+": "+want, res.raw)
	details, _ := res.body["details"].([]any)
	var descriptions []string
	for _, d := range details {
		detail, _ := d.(map[string]any)
		if detail["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		violations, _ := detail["fieldViolations"].([]any)
		for _, v := range violations {
			fv, _ := v.(map[string]any)
			if fv["field"] == field {
				s, _ := fv["description"].(string)
				descriptions = append(descriptions, s)
			}
		}
	}
	require.Contains(t, descriptions, want, "the BadRequest fieldViolations of %s: %s", field, res.raw)
}

// TestEveryValidationRuleHasAMessageCase walks the request types of every method of the API's
// services, through their nested messages, and fails for each buf.validate rule that no case of
// messageCases breaks, so that a new rule comes with the sentence a caller will read. A case for a
// rule that no longer exists fails too.
func TestEveryValidationRuleHasAMessageCase(t *testing.T) {
	t.Parallel()
	rules := map[string]bool{}
	for in := range methodsByInput(t) {
		desc, err := protoregistry.GlobalFiles.FindDescriptorByName(in)
		require.NoError(t, err)
		for _, k := range ruleKeys(t, desc.(protoreflect.MessageDescriptor), "", nil) {
			rules[ruleKey(in, k[0], k[1])] = true
		}
	}
	require.NotEmpty(t, rules)

	covered := map[string]bool{}
	var stale []string
	for _, c := range messageCases() {
		covered[c.key()] = true
		if !rules[c.key()] {
			stale = append(stale, c.key())
		}
	}
	var missing []string
	for k := range rules {
		if !covered[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("rules without a case in messageCases; add a request that breaks each, with the sentence it answers:\n\t%s", strings.Join(missing, "\n\t"))
	}
	if len(stale) > 0 {
		t.Errorf("cases in messageCases for rules the protos do not have:\n\t%s", strings.Join(stale, "\n\t"))
	}
}

// methodsByInput maps each request type of the API's services to the methods that take it.
func methodsByInput(t *testing.T) map[protoreflect.FullName][]protoreflect.MethodDescriptor {
	t.Helper()
	out := map[protoreflect.FullName][]protoreflect.MethodDescriptor{}
	protoregistry.GlobalFiles.RangeFilesByPackage(apiPackage, func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			sd := fd.Services().Get(i)
			for j := range sd.Methods().Len() {
				md := sd.Methods().Get(j)
				if md.IsStreamingClient() || md.IsStreamingServer() {
					continue
				}
				out[md.Input().FullName()] = append(out[md.Input().FullName()], md)
			}
		}
		return true
	})
	require.NotEmpty(t, out, "no services in package %s", apiPackage)
	return out
}

// ruleKeys lists the buf.validate rules of md and of the messages under it as {field path, rule}
// pairs: "required", a standard rule as "type.rule" (for example "string.max_len"), a CEL rule
// by its id. Message-level CEL rules are named by their id, which by the project's convention is
// "<field path>.<rule>", the path their violations carry. seen holds the types on the way down,
// so a recursive type ends the walk.
func ruleKeys(t *testing.T, md protoreflect.MessageDescriptor, prefix string, seen []protoreflect.FullName) [][2]string {
	t.Helper()
	if slices.Contains(seen, md.FullName()) {
		return nil
	}
	seen = append(seen, md.FullName())
	var out [][2]string

	if mr, ok := proto.GetExtension(md.Options(), validate.E_Message).(*validate.MessageRules); ok && mr != nil {
		mr.ProtoReflect().Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch f.Name() {
			case "cel":
				for i := range v.List().Len() {
					id := v.List().Get(i).Message().Interface().(*validate.Rule).GetId()
					j := strings.LastIndexByte(id, '.')
					if j <= 0 {
						t.Errorf("%s: message rule %q is not named <field path>.<rule>", md.FullName(), id)
						continue
					}
					out = append(out, [2]string{prefix + id[:j], id})
				}
			default:
				t.Errorf("%s: message rule %s is new to this walk: teach ruleKeys its field paths", md.FullName(), f.Name())
			}
			return true
		})
	}
	for i := range md.Oneofs().Len() {
		od := md.Oneofs().Get(i)
		if or, ok := proto.GetExtension(od.Options(), validate.E_Oneof).(*validate.OneofRules); ok && or.GetRequired() {
			out = append(out, [2]string{prefix + string(od.Name()), "required"})
		}
	}
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		path := prefix + string(fd.Name())
		if fr, ok := proto.GetExtension(fd.Options(), validate.E_Field).(*validate.FieldRules); ok && fr != nil {
			fr.ProtoReflect().Range(func(f protoreflect.FieldDescriptor, v protoreflect.Value) bool {
				switch {
				case f.Name() == "ignore":
				case f.Name() == "required":
					if v.Bool() {
						out = append(out, [2]string{path, "required"})
					}
				case f.Name() == "cel":
					for j := range v.List().Len() {
						out = append(out, [2]string{path, v.List().Get(j).Message().Interface().(*validate.Rule).GetId()})
					}
				case f.ContainingOneof() != nil && f.Message() != nil:
					// The typed rules: string, int32, enum, and so on.
					v.Message().Range(func(r protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
						if r.Name() != "example" {
							out = append(out, [2]string{path, string(f.Name()) + "." + string(r.Name())})
						}
						return true
					})
				default:
					t.Errorf("%s: field rule %s is new to this walk: teach ruleKeys to name it", path, f.Name())
				}
				return true
			})
		}
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				t.Errorf("%s: the walk does not look into map values yet", path)
			}
		case fd.Message() != nil:
			next := path + "."
			if fd.IsList() {
				next = path + "[0]."
			}
			out = append(out, ruleKeys(t, fd.Message(), next, seen)...)
		}
	}
	return out
}
