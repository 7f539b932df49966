package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/testdb"
)

// candidateSource is the built-in v2 with the seller's line in the order comments changed
// ("Vendió:"), its own test following the change when fixTest is set, and no version line: the
// server gives the number.
func candidateSource(t *testing.T, fixTest bool) string {
	t.Helper()
	raw, err := os.ReadFile("../../mappings/handy-bind/v2.yaml")
	require.NoError(t, err)
	src := regexp.MustCompile(`(?m)^version: v2\n`).ReplaceAllString(string(raw), "")
	require.NotEqual(t, string(raw), src)
	changed := strings.Replace(src, `"Vendedor: " + seller.name`, `"Vendió: " + seller.name`, 1)
	require.NotEqual(t, src, changed)
	if fixTest {
		changed = strings.ReplaceAll(changed, `Comments: "Vendedor: `, `Comments: "Vendió: `)
	}
	return changed
}

// violations returns the BadRequest field violations of a gRPC error.
func violations(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField()+": "+v.GetDescription())
			}
		}
	}
	return out
}

// TestMappingVersionsPublishedPinnedAndCompared is an integrator's whole path, over gRPC and
// REST: a version refused while its tests fail and accepted once they pass, numbered after the
// built-in ones; seen by its tenant only; compared on the connection's last sales (nothing
// written); pinned; then impossible to delete while pinned; every change in the audit log.
func TestMappingVersionsPublishedPinnedAndCompared(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	ctx := context.Background()
	integrator := pb.NewMappingServiceClient(dial(t, h.srv.GRPCAddr(), mintKey(t, h.srv, store.RoleIntegrator, "acme")))
	integratorKey := mintKey(t, h.srv, store.RoleIntegrator, "acme")
	otherKey := mintKey(t, h.srv, store.RoleIntegrator, "globex")
	other := pb.NewMappingServiceClient(dial(t, h.srv.GRPCAddr(), otherKey))

	// A connection of acme with sales already in Bind, on the built-in v2.
	s := newSims(t)
	c, _ := activeWithRun(t, h, s)
	require.Equal(t, "v2", c.GetMappingVersion())
	var saleIDs []string
	for i := range 3 {
		sale, err := s.handy.CreateSale(handysim.Sale{Customer: "C-1", Seller: s.seller.ID, At: time.Now().UTC().Add(-time.Duration(i+1) * time.Minute),
			Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(int64(i + 1))}}})
		require.NoError(t, err)
		saleIDs = append(saleIDs, strconv.FormatInt(sale.ID, 10))
	}
	require.Eventually(t, func() bool {
		// The activation's product sync must be done before sales can be sent.
		runs, err := h.runs.ListRuns(ctx, &pb.ListRunsRequest{ConnectionId: c.GetId()})
		require.NoError(t, err)
		return len(runs.GetRuns()) > 0 && runs.GetRuns()[0].GetState() == pb.RunState_RUN_STATE_SUCCEEDED
	}, 20*time.Second, 50*time.Millisecond)
	_, err := h.runs.TriggerSync(ctx, &pb.TriggerSyncRequest{ConnectionId: c.GetId(), Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(s.bind.Orders()) == 3 }, 20*time.Second, 50*time.Millisecond)

	// Refused while its own test fails: INVALID_ARGUMENT, the failure at its line, nothing stored.
	_, err = integrator.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "handy-bind", Source: candidateSource(t, false)})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	v := violations(err)
	require.NotEmpty(t, v)
	require.Regexp(t, `^source: line \d+: test .* failed: .*Comments`, v[0])
	list, err := integrator.ListMappings(ctx, &pb.ListMappingsRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetMappings(), 2, "nothing was stored")

	// A version line that is not the next number is refused at that line.
	_, err = integrator.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "handy-bind",
		Source: strings.Replace(candidateSource(t, true), "name: handy-bind\n", "name: handy-bind\nversion: v7\n", 1)})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, strings.Join(violations(err), "\n"), `version "v7": this source would be v3, the next version of handy-bind`)

	// Accepted over REST once its test follows the change: v3, after the built-in v1 and v2.
	body, _ := json.Marshal(map[string]string{"source": candidateSource(t, true)})
	res := h.doAs(t, integratorKey, http.MethodPost, "/v1/mappings/handy-bind/versions", string(body))
	require.Equal(t, http.StatusOK, res.status, res.raw)
	require.Equal(t, "v3", res.body["version"])
	require.Equal(t, "acme", res.body["tenant"])
	require.Equal(t, true, res.body["active"])
	require.Len(t, res.body["checksum"], 64)
	require.Regexp(t, `^hbk_[a-z2-7]{12}$`, res.body["authorKeyId"])
	require.NotEmpty(t, res.body["createTime"])
	got3, err := integrator.GetMapping(ctx, &pb.GetMappingRequest{Name: "handy-bind", Version: "v3"})
	require.NoError(t, err)
	require.Contains(t, got3.GetSource(), `"Vendió: " + seller.name`)

	// The same source again is refused, naming the version it already is; a mapping that does
	// not exist is not found.
	_, err = integrator.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "handy-bind", Source: candidateSource(t, true)})
	require.Equal(t, codes.AlreadyExists, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "this source is already version v3 of handy-bind")
	_, err = integrator.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "other-map", Source: candidateSource(t, true)})
	require.Equal(t, codes.NotFound, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "there is no mapping named other-map; versions can be published of handy-bind")

	// Its tenant sees it first; another tenant does not, and its own next number is v3 too.
	list, err = integrator.ListMappings(ctx, &pb.ListMappingsRequest{})
	require.NoError(t, err)
	require.Equal(t, "v3", list.GetMappings()[0].GetVersion())
	require.False(t, list.GetMappings()[0].GetBuiltIn())
	_, err = other.GetMapping(ctx, &pb.GetMappingRequest{Name: "handy-bind", Version: "v3"})
	require.Equal(t, codes.NotFound, status.Code(err))
	otherList, err := other.ListMappings(ctx, &pb.ListMappingsRequest{})
	require.NoError(t, err)
	require.Len(t, otherList.GetMappings(), 2)
	res = h.doAs(t, otherKey, http.MethodGet, "/v1/mappings/handy-bind/versions/v3", "")
	require.Equal(t, http.StatusNotFound, res.status, res.raw)
	// Only a platform key names a tenant.
	res = h.doAs(t, otherKey, http.MethodGet, "/v1/mappings/handy-bind/versions/v3?tenant=acme", "")
	require.Equal(t, http.StatusForbidden, res.status, res.raw)
	require.Contains(t, res.raw, "only a platform key names a tenant")
	res = h.doAs(t, otherKey, http.MethodGet, "/v1/mappings?tenant=acme", "")
	require.Equal(t, http.StatusForbidden, res.status, res.raw)
	globex3, err := other.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "handy-bind", Source: candidateSource(t, true)})
	require.NoError(t, err)
	require.Equal(t, "v3", globex3.GetVersion())
	globex4, err := other.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "handy-bind", Source: candidateSource(t, true) + "# globex's second\n"})
	require.NoError(t, err)
	require.Equal(t, "v4", globex4.GetVersion())

	// A platform key sees every tenant's versions, and names the tenant of the one it means.
	res = h.doAs(t, h.platformKey, http.MethodGet, "/v1/mappings/handy-bind/versions/v3", "")
	require.Equal(t, http.StatusNotFound, res.status, res.raw)
	require.Contains(t, res.raw, "there is no global version v3 of handy-bind; tenant(s) acme, globex have their own")
	res = h.doAs(t, h.platformKey, http.MethodGet, "/v1/mappings/handy-bind/versions/v3?tenant=globex", "")
	require.Equal(t, http.StatusOK, res.status, res.raw)
	require.Equal(t, "globex", res.body["tenant"])
	res = h.doAs(t, h.platformKey, http.MethodGet, "/v1/mappings?tenant=globex", "")
	require.Equal(t, http.StatusOK, res.status, res.raw)
	require.Len(t, res.body["mappings"], 4, "globex's v4 and v3, and the built-in v2 and v1")

	// The dry run: the last sales, read again from Handy, with the one field that changes and the
	// rule behind it; nothing written anywhere.
	ordersBefore, requestsBefore := s.bind.Orders(), len(s.bind.Orders())
	cmp, err := h.connections.CompareMapping(ctx, &pb.CompareMappingRequest{Id: c.GetId(), Version: "v3", SampleSize: 2})
	require.NoError(t, err)
	require.Equal(t, "v2", cmp.GetPinnedVersion())
	require.Equal(t, "v3", cmp.GetCandidateVersion())
	require.Len(t, cmp.GetSales(), 2)
	for _, sc := range cmp.GetSales() {
		require.Contains(t, saleIDs, sc.GetHandySaleId())
		require.NotEmpty(t, sc.GetBindOrderId())
		require.Empty(t, sc.GetCandidateRefusal())
		require.Empty(t, sc.GetError())
		require.Len(t, sc.GetChanges(), 1, "%v", sc.GetChanges())
		ch := sc.GetChanges()[0]
		require.Equal(t, "order.Comments", ch.GetPath())
		require.Equal(t, `"Vendedor: Beto <beto@example.com>"`, ch.GetOldValueJson())
		require.Equal(t, `"Vendió: Beto <beto@example.com>"`, ch.GetNewValueJson())
		require.Contains(t, ch.GetRule(), `"Vendió: " + seller.name`)
		require.Positive(t, ch.GetLine())
	}
	require.Zero(t, cmp.GetUnchangedCount())
	require.Equal(t, ordersBefore, s.bind.Orders(), "the dry run wrote nothing to Bind")
	require.Len(t, s.bind.Orders(), requestsBefore)
	// Over REST, by the integrator, with the default sample of the three sales.
	res = h.doAs(t, integratorKey, http.MethodPost, "/v1/connections/"+c.GetId()+":compareMapping", `{"version":"v3"}`)
	require.Equal(t, http.StatusOK, res.status, res.raw)
	require.Len(t, res.body["sales"], 3)
	// Against the built-in v1, the taxes fields differ and say so; another tenant's version is
	// not there for this connection.
	cmp, err = h.connections.CompareMapping(ctx, &pb.CompareMappingRequest{Id: c.GetId(), Version: "v1", SampleSize: 1})
	require.NoError(t, err)
	var paths []string
	for _, ch := range cmp.GetSales()[0].GetChanges() {
		paths = append(paths, ch.GetPath())
	}
	require.Contains(t, paths, "order.Products[0].VATExempt")
	_, err = h.connections.CompareMapping(ctx, &pb.CompareMappingRequest{Id: c.GetId(), Version: "v4"})
	require.Equal(t, codes.NotFound, status.Code(err), "globex's v4 is not acme's")

	// Pinning: another tenant's version is refused; the tenant's own is accepted, over REST with
	// the JSON field name in the mask.
	_, err = h.connections.UpdateConnection(ctx, &pb.UpdateConnectionRequest{Connection: &pb.Connection{Id: c.GetId(), MappingVersion: "v4"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"mapping_version"}}})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "there is no version v4 of handy-bind for tenant acme")
	res = h.do(t, http.MethodPatch, "/v1/connections/"+c.GetId()+"?updateMask=mappingVersion", `{"mappingVersion":"v3"}`)
	require.Equal(t, http.StatusOK, res.status, res.raw)
	require.Equal(t, "v3", res.body["mappingVersion"])

	// Listing says who uses it; a pinned version cannot be deleted, and the refusal names the
	// connection.
	got, err := integrator.GetMapping(ctx, &pb.GetMappingRequest{Name: "handy-bind", Version: "v3"})
	require.NoError(t, err)
	require.Equal(t, []string{c.GetId()}, got.GetConnectionIds())
	_, err = integrator.DeleteMappingVersion(ctx, &pb.DeleteMappingVersionRequest{Name: "handy-bind", Version: "v3"})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), c.GetId())
	res = h.doAs(t, integratorKey, http.MethodDelete, "/v1/mappings/handy-bind/versions/v3", "")
	require.Equal(t, http.StatusBadRequest, res.status, res.raw)
	// Built-in versions are read-only; unknown ones are not found.
	_, err = integrator.DeprecateMappingVersion(ctx, &pb.DeprecateMappingVersionRequest{Name: "handy-bind", Version: "v1"})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	_, err = integrator.DeleteMappingVersion(ctx, &pb.DeleteMappingVersionRequest{Name: "handy-bind", Version: "v9"})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = integrator.DeleteMappingVersion(ctx, &pb.DeleteMappingVersionRequest{Name: "handy-bind", Version: "v4"})
	require.Equal(t, codes.NotFound, status.Code(err), "another tenant's version is not found")

	// The sales sync runs on the pinned version.
	sale, err := s.handy.CreateSale(handysim.Sale{Customer: "C-1", Seller: s.seller.ID, At: time.Now().UTC(),
		Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(1)}}})
	require.NoError(t, err)
	_, err = h.runs.TriggerSync(ctx, &pb.TriggerSyncRequest{ConnectionId: c.GetId(), Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(s.bind.Orders()) == 4 }, 20*time.Second, 50*time.Millisecond)
	for _, o := range s.bind.Orders() {
		if o.PurchaseOrder == strconv.FormatInt(sale.ID, 10) {
			require.True(t, strings.HasPrefix(o.Comments, "Vendió: Beto"), o.Comments)
		}
	}

	// Moved back, v3 can be deprecated (no longer offered) and then deleted.
	_, err = h.connections.UpdateConnection(ctx, &pb.UpdateConnectionRequest{Connection: &pb.Connection{Id: c.GetId(), MappingVersion: "v2"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"mapping_version"}}})
	require.NoError(t, err)
	dep, err := integrator.DeprecateMappingVersion(ctx, &pb.DeprecateMappingVersionRequest{Name: "handy-bind", Version: "v3"})
	require.NoError(t, err)
	require.True(t, dep.GetDeprecated())
	_, err = h.connections.UpdateConnection(ctx, &pb.UpdateConnectionRequest{Connection: &pb.Connection{Id: c.GetId(), MappingVersion: "v3"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"mapping_version"}}})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "deprecated")
	res = h.doAs(t, integratorKey, http.MethodDelete, "/v1/mappings/handy-bind/versions/v3", "")
	require.Equal(t, http.StatusOK, res.status, res.raw)
	_, err = integrator.GetMapping(ctx, &pb.GetMappingRequest{Name: "handy-bind", Version: "v3"})
	require.Equal(t, codes.NotFound, status.Code(err))
	// Its number is never given again.
	v5, err := integrator.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "handy-bind", Source: candidateSource(t, true)})
	require.NoError(t, err)
	require.Equal(t, "v4", v5.GetVersion(), "acme's next after its deleted v3 (globex's v4 is not acme's)")

	// The audit log has the publishing, the re-pinning, the deprecation and the deletion.
	audit, err := pb.NewAuditServiceClient(dial(t, h.srv.GRPCAddr(), h.platformKey)).ListAuditEvents(ctx, &pb.ListAuditEventsRequest{Tenant: "acme", PageSize: 100})
	require.NoError(t, err)
	var events []string
	for _, e := range audit.GetEvents() {
		method := e.GetMethod()[strings.LastIndexByte(e.GetMethod(), '/')+1:]
		events = append(events, method+" "+e.GetResource()+" "+e.GetOutcome())
	}
	joined := strings.Join(events, "\n")
	require.Contains(t, joined, "CreateMappingVersion mappings/handy-bind/versions/v3 OK")
	require.Contains(t, joined, "CreateMappingVersion mappings/handy-bind/versions INVALID_ARGUMENT")
	require.Contains(t, joined, "UpdateConnection connections/"+c.GetId()+"/mapping_version/v3 OK")
	require.Contains(t, joined, "DeprecateMappingVersion mappings/handy-bind/versions/v3 OK")
	require.Contains(t, joined, "DeleteMappingVersion mappings/handy-bind/versions/v3 FAILED_PRECONDITION")
	require.Contains(t, joined, "DeleteMappingVersion mappings/handy-bind/versions/v3 OK")
}

// TestHostileSourcesAreRefusedWhenPublished: an oversized source, a YAML bomb and rules that
// build without bound are refused quickly, with a message that says which limit, and nothing is
// stored.
func TestHostileSourcesAreRefusedWhenPublished(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	ctx := context.Background()
	mappings := pb.NewMappingServiceClient(h.conn)
	v2 := candidateSource(t, true)

	cases := []struct {
		name, source string
		code         codes.Code
		says         string
	}{
		{"over 256 KiB", v2 + "\n#" + strings.Repeat("x", 256<<10), codes.InvalidArgument, fmt.Sprintf("source: is %d bytes; a published mapping is at most 262144 bytes (256 KiB)", len(v2)+2+256<<10)},
		{"YAML bomb", v2 + "  - {name: bomb, target: order, expect: {PurchaseOrder: \"1\"}, input: {sale: {id: 1}, seller: {name: x}, " +
			"x0: &x0 [aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa, aaaaaaaaaa], " +
			"x1: &x1 [*x0, *x0, *x0, *x0, *x0, *x0, *x0, *x0, *x0, *x0], x2: &x2 [*x1, *x1, *x1, *x1, *x1, *x1, *x1, *x1, *x1, *x1], " +
			"x3: &x3 [*x2, *x2, *x2, *x2, *x2, *x2, *x2, *x2, *x2, *x2], x4: &x4 [*x3, *x3, *x3, *x3, *x3, *x3, *x3, *x3, *x3, *x3], " +
			"x5: &x5 [*x4, *x4, *x4, *x4, *x4, *x4, *x4, *x4, *x4, *x4], x6: [*x5, *x5, *x5, *x5, *x5, *x5, *x5, *x5, *x5, *x5]}}\n",
			codes.InvalidArgument, "once its aliases are expanded"},
		{"text without bound", strings.Replace(v2, `"Vendió: " + seller.name`, strings.Repeat("string(split(", 16)+"seller.name"+strings.Repeat(`, ""))`, 16), 1), codes.InvalidArgument, "the limit is 65536"},
		{"another name inside", strings.Replace(v2, "name: handy-bind", "name: other-family", 1), codes.InvalidArgument, `the source is named "other-family" but is published as a version of handy-bind`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := mappings.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "handy-bind", Source: tc.source})
			require.Equal(t, tc.code, status.Code(err), "%v", err)
			require.Contains(t, status.Convert(err).Message(), tc.says)
			require.Less(t, time.Since(start), 5*time.Second)
		})
	}
	list, err := mappings.ListMappings(ctx, &pb.ListMappingsRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetMappings(), 2, "nothing was stored")
}

// TestPublishedVersionReachesTheOtherReplica: two replicas on one PostgreSQL database; a version
// published through one is served by the other within seconds, without a restart, and a
// connection there can be pinned to it.
func TestPublishedVersionReachesTheOtherReplica(t *testing.T) {
	t.Parallel()
	dbURL := testdb.Postgres(t)
	cfgA := testConfig(t, dbURL)
	cfgB := cfgA
	cfgB.DataDir = t.TempDir()
	a := startServer(t, cfgA)
	b := startServer(t, cfgB)
	ctx := context.Background()

	onA := pb.NewMappingServiceClient(dial(t, a.srv.GRPCAddr(), mintKey(t, a.srv, store.RoleIntegrator, "acme")))
	start := time.Now()
	published, err := onA.CreateMappingVersion(ctx, &pb.CreateMappingVersionRequest{Mapping: "handy-bind", Source: candidateSource(t, true)})
	require.NoError(t, err)
	require.Equal(t, "v3", published.GetVersion())

	onB := pb.NewMappingServiceClient(dial(t, b.srv.GRPCAddr(), mintKey(t, b.srv, store.RoleIntegrator, "acme")))
	require.Eventually(t, func() bool {
		got, err := onB.GetMapping(ctx, &pb.GetMappingRequest{Name: "handy-bind", Version: "v3"})
		return err == nil && got.GetChecksum() == published.GetChecksum()
	}, 10*time.Second, 50*time.Millisecond)
	t.Logf("served by the other replica %v after publishing", time.Since(start).Round(time.Millisecond))

	c, err := b.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x", MappingVersion: "v3"}})
	require.NoError(t, err)
	require.Equal(t, "v3", c.GetMappingVersion())
	// A deletion refused on one replica is refused on the other: the pin is in the database.
	_, err = onA.DeleteMappingVersion(ctx, &pb.DeleteMappingVersionRequest{Name: "handy-bind", Version: "v3"})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
}
