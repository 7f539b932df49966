package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/page"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/testdb"
)

// sims is a Handy account and a Bind company behind real HTTP servers.
type sims struct {
	handy             *handysim.Sim
	bind              *bindsim.Sim
	seller            handy.User
	handyURL, bindURL string
}

func newSims(t *testing.T) sims {
	t.Helper()
	hs, bs := handysim.New(nil), bindsim.New()
	hs.AddToken("h-tok")
	seller := hs.AddUser(handy.User{Name: "Beto", Username: "beto@example.com", Enabled: true})
	hs.AddCustomer(handy.Customer{Code: "C-1", Description: "Abarrotes Lupita"})
	hs.AddProduct("E-001", "Escoba", money.MustParse("836.21"), handysim.IVA(16), time.Now().Add(-time.Hour))
	bs.AddToken("b-tok", bind.UserProfile{Name: "Admin", Username: "admin"})
	bs.AddPriceList("Lista General")
	bs.AddCurrency("MXN", "Peso")
	bs.AddWarehouse("Matriz", bs.AddLocation("Matriz"))
	bs.AddAccount("105-01-001", "Clientes")
	hsrv, bsrv := httptest.NewServer(hs), httptest.NewServer(bs)
	t.Cleanup(hsrv.Close)
	t.Cleanup(bsrv.Close)
	return sims{handy: hs, bind: bs, seller: seller, handyURL: hsrv.URL + "/api/v2", bindURL: bsrv.URL}
}

func (s sims) connection(name string) *pb.Connection {
	return &pb.Connection{
		DisplayName: name,
		Handy:       &pb.HandyCredentials{BaseUrl: s.handyURL, Token: "h-tok"},
		Bind:        &pb.BindCredentials{BaseUrl: s.bindURL, UserName: "admin", Token: "b-tok"},
		Settings:    &pb.ConnectionSettings{PriceList: "Lista General", Currency: "MXN", Warehouse: "Matriz", LedgerAccount: "105-01-001"},
	}
}

// activeWithRun creates and activates a connection of the harness's partner tenant and returns
// it with the run its activation started.
func activeWithRun(t *testing.T, h *harness, s sims) (*pb.Connection, *pb.Run) {
	t.Helper()
	ctx := context.Background()
	c, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: s.connection("Acme Norte")})
	require.NoError(t, err)
	_, err = h.connections.ActivateConnection(ctx, &pb.ActivateConnectionRequest{Id: c.GetId()})
	require.NoError(t, err)
	var run *pb.Run
	require.Eventually(t, func() bool {
		runs, err := h.runs.ListRuns(ctx, &pb.ListRunsRequest{ConnectionId: c.GetId()})
		require.NoError(t, err)
		if len(runs.GetRuns()) == 0 {
			return false
		}
		run = runs.GetRuns()[0]
		return true
	}, 10*time.Second, 20*time.Millisecond)
	return c, run
}

// newRequest makes an empty request message of a full method name, from the registry, so that
// the walk below needs no list of its own.
func newRequest(t *testing.T, method string) (proto.Message, proto.Message) {
	t.Helper()
	svc, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	require.NoError(t, err, method)
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(name))
	require.NotNil(t, md, method)
	in, err := protoregistry.GlobalTypes.FindMessageByName(md.Input().FullName())
	require.NoError(t, err)
	out, err := protoregistry.GlobalTypes.FindMessageByName(md.Output().FullName())
	require.NoError(t, err)
	return in.New().Interface(), out.New().Interface()
}

// TestEveryRPCIsGuarded walks every method the server registers and proves that each refuses a
// call without a key, with a malformed or unknown key, and with a key of a role the method does
// not allow; and that every method naming a tenant's record answers NOT_FOUND to another
// tenant, exactly as for a record that does not exist. A method added without an access rule
// fails here (and is refused to everyone by the guard).
//
// Mutations that make it fail: dropping the guard from the chain; a Policy rule with a role too
// many (checked against a table written out here); a Target left off a rule; the tenant
// comparison removed from Guard.scope.
func TestEveryRPCIsGuarded(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		h := startServer(t, testConfig(t, dbURL))
		ctx := context.Background()
		conn, run := activeWithRun(t, h, newSims(t))
		const missing = "01a21a0f-eea7-7b10-aca4-8d13cd1b39d4"

		keys := map[store.Role]string{
			store.RolePlatform:   h.platformKey,
			store.RolePartner:    h.key,
			store.RoleIntegrator: mintKey(t, h.srv, store.RoleIntegrator, "acme"),
		}
		other := map[store.Role]string{
			store.RolePartner:    mintKey(t, h.srv, store.RolePartner, "globex"),
			store.RoleIntegrator: mintKey(t, h.srv, store.RoleIntegrator, "globex"),
		}
		anon := dial(t, h.srv.GRPCAddr(), "")
		bogus := dial(t, h.srv.GRPCAddr(), "hbk_aaaaaaaaaaaa_"+strings.Repeat("a", 52))
		clients := map[string]*grpc.ClientConn{}
		for role, key := range keys {
			clients["acme/"+string(role)] = dial(t, h.srv.GRPCAddr(), key)
		}
		for role, key := range other {
			clients["globex/"+string(role)] = dial(t, h.srv.GRPCAddr(), key)
		}

		// Valid requests naming a tenant's record, by method; id is the record to name.
		targeted := map[string]func(id string) proto.Message{
			pb.ConnectionService_GetConnection_FullMethodName: func(id string) proto.Message { return &pb.GetConnectionRequest{Id: id} },
			pb.ConnectionService_UpdateConnection_FullMethodName: func(id string) proto.Message {
				return &pb.UpdateConnectionRequest{Connection: &pb.Connection{Id: id, DisplayName: "stolen"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}}
			},
			pb.ConnectionService_DeleteConnection_FullMethodName:   func(id string) proto.Message { return &pb.DeleteConnectionRequest{Id: id} },
			pb.ConnectionService_ActivateConnection_FullMethodName: func(id string) proto.Message { return &pb.ActivateConnectionRequest{Id: id} },
			pb.ConnectionService_PauseConnection_FullMethodName:    func(id string) proto.Message { return &pb.PauseConnectionRequest{Id: id} },
			pb.RunService_TriggerSync_FullMethodName: func(id string) proto.Message {
				return &pb.TriggerSyncRequest{ConnectionId: id, Kind: pb.SyncKind_SYNC_KIND_SALES}
			},
			pb.RunService_ListRuns_FullMethodName:     func(id string) proto.Message { return &pb.ListRunsRequest{ConnectionId: id} },
			pb.RunService_GetRun_FullMethodName:       func(id string) proto.Message { return &pb.GetRunRequest{Id: id} },
			pb.RunService_ListRunItems_FullMethodName: func(id string) proto.Message { return &pb.ListRunItemsRequest{RunId: id} },
			pb.ConnectionService_CompareMapping_FullMethodName: func(id string) proto.Message {
				return &pb.CompareMappingRequest{Id: id, Version: "v1"}
			},
		}

		// Who may call what, written out independently of auth.Policy (as docs/access.md says it),
		// so that a rule with a role too many or a target left off fails here.
		all := []store.Role{store.RolePlatform, store.RolePartner, store.RoleIntegrator}
		managers := []store.Role{store.RolePlatform, store.RolePartner}
		type want struct {
			roles  []store.Role
			target auth.Target
		}
		expected := map[string]want{
			pb.ConnectionService_CreateConnection_FullMethodName:     {managers, auth.NoTarget},
			pb.ConnectionService_GetConnection_FullMethodName:        {all, auth.ConnectionTarget},
			pb.ConnectionService_ListConnections_FullMethodName:      {all, auth.NoTarget},
			pb.ConnectionService_UpdateConnection_FullMethodName:     {managers, auth.ConnectionTarget},
			pb.ConnectionService_DeleteConnection_FullMethodName:     {managers, auth.ConnectionTarget},
			pb.ConnectionService_ActivateConnection_FullMethodName:   {managers, auth.ConnectionTarget},
			pb.ConnectionService_PauseConnection_FullMethodName:      {managers, auth.ConnectionTarget},
			pb.RunService_TriggerSync_FullMethodName:                 {managers, auth.ConnectionTarget},
			pb.RunService_GetRun_FullMethodName:                      {all, auth.RunTarget},
			pb.RunService_ListRuns_FullMethodName:                    {all, auth.ConnectionTarget},
			pb.RunService_ListRunItems_FullMethodName:                {all, auth.RunTarget},
			pb.MappingService_ListMappings_FullMethodName:            {all, auth.NoTarget},
			pb.MappingService_GetMapping_FullMethodName:              {all, auth.NoTarget},
			pb.MappingService_ValidateMapping_FullMethodName:         {all, auth.NoTarget},
			pb.MappingService_TestMapping_FullMethodName:             {all, auth.NoTarget},
			pb.MappingService_PreviewMapping_FullMethodName:          {all, auth.NoTarget},
			pb.MappingService_CreateMappingVersion_FullMethodName:    {all, auth.NoTarget},
			pb.MappingService_DeprecateMappingVersion_FullMethodName: {all, auth.NoTarget},
			pb.MappingService_DeleteMappingVersion_FullMethodName:    {all, auth.NoTarget},
			pb.ConnectionService_CompareMapping_FullMethodName:       {all, auth.ConnectionTarget},
			pb.AuditService_ListAuditEvents_FullMethodName:           {[]store.Role{store.RolePlatform}, auth.NoTarget},
		}

		methods := h.srv.Methods()
		require.Greater(t, len(methods), 15)
		for _, method := range methods {
			if strings.HasPrefix(method, "/grpc.health.v1.") {
				continue // public by design
			}
			rule, ok := auth.Policy[method]
			require.True(t, ok, "%s has no access rule", method)
			exp, ok := expected[method]
			require.True(t, ok, "%s is new: write down who may call it here and in docs/access.md", method)
			require.ElementsMatch(t, exp.roles, rule.Roles, "%s: roles", method)
			require.Equal(t, exp.target, rule.Target, "%s: target", method)
			req, resp := newRequest(t, method)

			err := anon.Invoke(ctx, method, req, resp)
			require.Equal(t, codes.Unauthenticated, status.Code(err), "%s without a key: %v", method, err)
			err = bogus.Invoke(ctx, method, req, resp)
			require.Equal(t, codes.Unauthenticated, status.Code(err), "%s with an unknown key: %v", method, err)

			for role := range keys {
				if slices.Contains(rule.Roles, role) {
					continue
				}
				err := clients["acme/"+string(role)].Invoke(ctx, method, req, resp)
				require.Equal(t, codes.PermissionDenied, status.Code(err), "%s with a %s key: %v", method, role, err)
			}

			if rule.Target == auth.NoTarget {
				continue
			}
			build, ok := targeted[method]
			require.True(t, ok, "%s names a record; add it to the walk", method)
			id := conn.GetId()
			if rule.Target == auth.RunTarget {
				id = run.GetId()
			}
			errMissing := clients["acme/"+string(store.RolePlatform)].Invoke(ctx, method, build(missing), resp)
			require.Equal(t, codes.NotFound, status.Code(errMissing), "%s on a missing record", method)
			for role := range other {
				if !slices.Contains(rule.Roles, role) {
					continue
				}
				err := clients["globex/"+string(role)].Invoke(ctx, method, build(id), resp)
				require.Equal(t, codes.NotFound, status.Code(err), "%s with another tenant's %s key: %v", method, role, err)
				// Indistinguishable from a record that does not exist.
				require.Equal(t, strings.ReplaceAll(status.Convert(errMissing).Message(), missing, id), status.Convert(err).Message())
			}
		}

		// Nothing of tenant acme changed through all of that.
		got, err := h.connections.GetConnection(ctx, &pb.GetConnectionRequest{Id: conn.GetId()})
		require.NoError(t, err)
		require.Equal(t, "Acme Norte", got.GetDisplayName())
		require.Equal(t, pb.ConnectionState_CONNECTION_STATE_ACTIVE, got.GetState())

		// Server reflection (a stream) needs a key too.
		refl := func(c *grpc.ClientConn) error {
			stream, err := reflectionpb.NewServerReflectionClient(c).ServerReflectionInfo(ctx)
			if err != nil {
				return err
			}
			// A refused stream may end before the send lands (io.EOF); Recv gives its status.
			_ = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
			_, err = stream.Recv()
			return err
		}
		require.Equal(t, codes.Unauthenticated, status.Code(refl(anon)))
		require.NoError(t, refl(clients["acme/integrator"]))
	})
}

// TestTwoTenantsOverRESTAndGRPC is what a partner sees: its own tenant's connections, runs and
// items, and nothing of another tenant's, over both protocols; a platform key sees both, an
// integrator only reads runs, and the audit log says who changed what.
func TestTwoTenantsOverRESTAndGRPC(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		h := startServer(t, testConfig(t, dbURL))
		ctx := context.Background()
		s := newSims(t)
		acme, run := activeWithRun(t, h, s)
		require.Equal(t, "acme", acme.GetTenant())

		globexKey := mintKey(t, h.srv, store.RolePartner, "globex")
		integrator := mintKey(t, h.srv, store.RoleIntegrator, "acme")
		platform := pb.NewConnectionServiceClient(dial(t, h.srv.GRPCAddr(), h.platformKey))

		// A partner creates in its own tenant; naming another is refused.
		res := h.doAs(t, globexKey, http.MethodPost, "/v1/connections", `{"displayName":"Globex Sur"}`)
		require.Equal(t, http.StatusOK, res.status, res.raw)
		require.Equal(t, "globex", res.body["tenant"])
		globexID := res.body["id"].(string)
		res = h.doAs(t, globexKey, http.MethodPost, "/v1/connections", `{"displayName":"x","tenant":"acme"}`)
		require.Equal(t, http.StatusForbidden, res.status, res.raw)
		// A platform key must name the tenant.
		_, err := platform.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x"}})
		require.Equal(t, codes.InvalidArgument, status.Code(err))
		require.Contains(t, status.Convert(err).Message(), "connection.tenant")
		initech, err := platform.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "Initech", Tenant: "initech"}})
		require.NoError(t, err)
		require.Equal(t, "initech", initech.GetTenant())

		// Lists are confined to the caller's tenant, whatever filter it asks for.
		list := h.doAs(t, globexKey, http.MethodGet, "/v1/connections", "")
		require.Equal(t, http.StatusOK, list.status)
		require.Len(t, list.body["connections"], 1)
		// Naming another tenant is refused, whether it exists or not, and says why.
		for _, other := range []string{"acme", "nosuchtenant"} {
			list = h.doAs(t, globexKey, http.MethodGet, "/v1/connections?tenant="+other, "")
			require.Equal(t, http.StatusForbidden, list.status, "%v", list.body)
			require.Equal(t, "this key belongs to tenant globex and cannot list connections of tenant "+other, list.body["message"])
			require.NotContains(t, list.body, "connections")
		}
		_, err = pb.NewConnectionServiceClient(dial(t, h.srv.GRPCAddr(), globexKey)).ListConnections(ctx, &pb.ListConnectionsRequest{Tenant: "acme"})
		require.Equal(t, codes.PermissionDenied, status.Code(err))
		all, err := platform.ListConnections(ctx, &pb.ListConnectionsRequest{})
		require.NoError(t, err)
		require.Len(t, all.GetConnections(), 3)
		onlyAcme, err := platform.ListConnections(ctx, &pb.ListConnectionsRequest{Tenant: "acme"})
		require.NoError(t, err)
		require.Len(t, onlyAcme.GetConnections(), 1)
		require.Equal(t, acme.GetId(), onlyAcme.GetConnections()[0].GetId())

		// Every route to acme's records is a 404 for globex.
		for _, r := range []struct{ method, path, body string }{
			{http.MethodGet, "/v1/connections/" + acme.GetId(), ""},
			{http.MethodPatch, "/v1/connections/" + acme.GetId(), `{"displayName":"mine now"}`},
			{http.MethodDelete, "/v1/connections/" + acme.GetId(), ""},
			{http.MethodPost, "/v1/connections/" + acme.GetId() + ":pause", `{}`},
			{http.MethodPost, "/v1/connections/" + acme.GetId() + ":activate", `{}`},
			{http.MethodPost, "/v1/connections/" + acme.GetId() + "/runs", `{"kind":"SYNC_KIND_SALES"}`},
			{http.MethodGet, "/v1/connections/" + acme.GetId() + "/runs", ""},
			{http.MethodGet, "/v1/runs/" + run.GetId(), ""},
			{http.MethodGet, "/v1/runs/" + run.GetId() + "/items", ""},
		} {
			res := h.doAs(t, globexKey, r.method, r.path, r.body)
			require.Equal(t, http.StatusNotFound, res.status, "%s %s: %s", r.method, r.path, res.raw)
			require.NotContains(t, res.raw, "Acme")
		}
		// And without a key, a 401 that says how to get one.
		res = h.doAs(t, "", http.MethodGet, "/v1/connections/"+acme.GetId(), "")
		require.Equal(t, http.StatusUnauthorized, res.status)
		require.Contains(t, res.raw, "Bearer")
		require.Equal(t, `Bearer realm="handybind"`, res.header.Get("WWW-Authenticate"))
		// An upper-case spelling of the id names the same record.
		res = h.do(t, http.MethodGet, "/v1/connections/"+strings.ToUpper(acme.GetId()), "")
		require.Equal(t, http.StatusOK, res.status, res.raw)
		// A form-encoded POST is not served as the GET of the same path.
		req, err := http.NewRequest(http.MethodPost, h.rest+"/v1/connections/"+acme.GetId(), strings.NewReader("{}"))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+h.key)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		form, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		form.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, form.StatusCode)

		// The integrator reads acme's runs and items, and nothing else.
		require.Equal(t, http.StatusOK, h.doAs(t, integrator, http.MethodGet, "/v1/connections/"+acme.GetId()+"/runs", "").status)
		require.Equal(t, http.StatusOK, h.doAs(t, integrator, http.MethodGet, "/v1/runs/"+run.GetId()+"/items", "").status)
		require.Equal(t, http.StatusOK, h.doAs(t, integrator, http.MethodGet, "/v1/mappings", "").status)
		list = h.doAs(t, integrator, http.MethodGet, "/v1/connections", "")
		require.Equal(t, http.StatusOK, list.status, "an integrator finds its tenant's connections")
		require.Len(t, list.body["connections"], 1)
		require.Equal(t, http.StatusForbidden, h.doAs(t, integrator, http.MethodPatch, "/v1/connections/"+acme.GetId(), `{"displayName":"x"}`).status)
		require.Equal(t, http.StatusForbidden, h.doAs(t, integrator, http.MethodPost, "/v1/connections/"+acme.GetId()+"/runs", `{"kind":"SYNC_KIND_SALES"}`).status)
		require.Equal(t, http.StatusNotFound, h.doAs(t, integrator, http.MethodGet, "/v1/connections/"+globexID+"/runs", "").status)

		// The tenant cannot be changed.
		res = h.do(t, http.MethodPatch, "/v1/connections/"+acme.GetId()+"?updateMask=tenant", `{"tenant":"globex"}`)
		require.Equal(t, http.StatusBadRequest, res.status, res.raw)

		// The audit log names the key, the tenant and the outcome of each change, refused ones too.
		require.Equal(t, http.StatusForbidden, h.do(t, http.MethodGet, "/v1/audit-events", "").status, "partners do not read the audit log")
		audit := h.doAs(t, h.platformKey, http.MethodGet, "/v1/audit-events?pageSize=100", "")
		require.Equal(t, http.StatusOK, audit.status, audit.raw)
		events := audit.body["events"].([]any)
		find := func(method, resource, outcome string) map[string]any {
			for _, e := range events {
				e := e.(map[string]any)
				if strings.HasSuffix(e["method"].(string), method) && e["resource"] == resource && e["outcome"] == outcome {
					return e
				}
			}
			return nil
		}
		created := find("/CreateConnection", "connections/"+acme.GetId(), "OK")
		require.NotNil(t, created, "%v", events)
		require.Equal(t, "acme", created["tenant"])
		require.Equal(t, "partner", created["role"])
		require.True(t, strings.HasPrefix(h.key, created["keyId"].(string)+"_"), "the event names the key by its id")
		require.NotNil(t, find("/ActivateConnection", "connections/"+acme.GetId(), "OK"))
		refused := find("/DeleteConnection", "connections/"+acme.GetId(), "NOT_FOUND")
		require.NotNil(t, refused, "globex's attempt is on record")
		require.True(t, strings.HasPrefix(globexKey, refused["keyId"].(string)+"_"))
		require.NotContains(t, audit.raw, h.key, "keys appear by id only")

		// A platform key's create is filed under the tenant it created in.
		initechAudit := h.doAs(t, h.platformKey, http.MethodGet, "/v1/audit-events?tenant=initech", "")
		require.Contains(t, initechAudit.raw, "connections/"+initech.GetId())
		// What a refused caller sent as an id is not copied into the log.
		junk := strings.Repeat("A", 4096)
		res = h.doAs(t, integrator, http.MethodDelete, "/v1/connections/"+junk, "")
		require.Equal(t, http.StatusForbidden, res.status)
		audit = h.doAs(t, h.platformKey, http.MethodGet, "/v1/audit-events?pageSize=5", "")
		require.NotContains(t, audit.raw, junk[:64])
		require.Contains(t, audit.raw, "connections/(invalid id)")

		// A page token made outside the service (a cursor that is no id) is bad input, not a 500.
		forged := page.Encode("x' OR 1=1", "state=&tenant=")
		res = h.doAs(t, h.platformKey, http.MethodGet, "/v1/connections?pageToken="+forged, "")
		require.Equal(t, http.StatusBadRequest, res.status, res.raw)
		require.Contains(t, res.raw, `"field":"pageToken"`)
	})
}

// TestStoredTokenGoesOnlyWhereItWasEntered is the exfiltration attempt: a partner points a
// connection's Bind address at a server of its own and activates, hoping the stored token follows.
// Addresses the operator did not allow are refused outright, and an upstream answer's body never
// reaches the caller.
func TestStoredTokenGoesOnlyWhereItWasEntered(t *testing.T) {
	t.Parallel()
	backends(t, testStoredTokenGoesOnlyWhereItWasEntered)
}

func testStoredTokenGoesOnlyWhereItWasEntered(t *testing.T, dbURL string) {
	h := startServer(t, testConfig(t, dbURL))
	ctx := context.Background()
	c, _ := activeWithRun(t, h, newSims(t))

	var mu sync.Mutex
	var seen []string
	thief := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"Message":"INTERNAL-SECRET db=10.1.2.3 password=hunter2"}`))
	}))
	defer thief.Close()

	_, err := h.connections.PauseConnection(ctx, &pb.PauseConnectionRequest{Id: c.GetId()})
	require.NoError(t, err)
	moved := h.do(t, http.MethodPatch, "/v1/connections/"+c.GetId(), `{"bind":{"baseUrl":"`+thief.URL+`"}}`)
	require.Equal(t, http.StatusOK, moved.status, moved.raw)
	require.NotEqual(t, true, moved.body["bind"].(map[string]any)["tokenSet"], "a new address drops the token")
	require.Equal(t, true, moved.body["handy"].(map[string]any)["tokenSet"])

	_, err = h.connections.ActivateConnection(ctx, &pb.ActivateConnectionRequest{Id: c.GetId()})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "bind.token")
	mu.Lock()
	require.Empty(t, seen, "nothing was sent to the new address")
	mu.Unlock()

	// With a token given for the new address, what the far side answers stays out of the error.
	_, err = h.connections.UpdateConnection(ctx, &pb.UpdateConnectionRequest{
		Connection: &pb.Connection{Id: c.GetId(), Bind: &pb.BindCredentials{Token: "a-token-for-the-thief"}},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bind.token"}},
	})
	require.NoError(t, err)
	_, err = h.connections.ActivateConnection(ctx, &pb.ActivateConnectionRequest{Id: c.GetId()})
	require.Error(t, err)
	msg := status.Convert(err).Message()
	require.Contains(t, msg, "Bind")
	require.Contains(t, msg, "400")
	require.NotContains(t, msg, "INTERNAL-SECRET")
	require.NotContains(t, msg, "hunter2")
	mu.Lock()
	for _, a := range seen {
		require.NotContains(t, a, "b-tok", "the original token never left for another host")
	}
	mu.Unlock()

	// Hosts the operator did not list are refused when set, naming the field.
	for _, url := range []string{"http://169.254.169.254/latest", "http://10.0.0.7:8080", "http://localhost:9", "http://[::1]:9", "https://api.bind.com.mx:8443"} {
		res := h.do(t, http.MethodPatch, "/v1/connections/"+c.GetId(), `{"bind":{"baseUrl":"`+url+`","token":"x"}}`)
		require.Equal(t, http.StatusBadRequest, res.status, "%s: %s", url, res.raw)
		require.Contains(t, res.raw, `"field":"connection.bind.baseUrl"`, url)
		require.Contains(t, res.raw, "allow-hosts", url)
	}
}

// TestKeysLifecycle: a revoked key stops working within the cache bound, an expired key never
// works, and keys appear nowhere in plaintext: not in the database, the logs or any response.
func TestKeysLifecycle(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		h := startServer(t, testConfig(t, dbURL))
		ctx := context.Background()
		ka := h.srv.KeyAdmin()
		key, rec, err := ka.Create(ctx, app.NewKeyRequest{Role: store.RolePartner, Tenant: "acme", Name: "to revoke"})
		require.NoError(t, err)
		client := pb.NewConnectionServiceClient(dial(t, h.srv.GRPCAddr(), key))
		_, err = client.ListConnections(ctx, &pb.ListConnectionsRequest{})
		require.NoError(t, err)

		_, err = ka.Revoke(ctx, rec.ID)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, err := client.ListConnections(ctx, &pb.ListConnectionsRequest{})
			return status.Code(err) == codes.Unauthenticated
		}, auth.CacheTTL+2*time.Second, 50*time.Millisecond)

		_, _, err = ka.Create(ctx, app.NewKeyRequest{Role: store.RolePartner, Tenant: "acme", ExpiresAt: time.Now().Add(-time.Minute)})
		require.Error(t, err, "a key cannot be made already expired")
		soon, _, err := ka.Create(ctx, app.NewKeyRequest{Role: store.RolePartner, Tenant: "acme", ExpiresAt: time.Now().Add(1500 * time.Millisecond)})
		require.NoError(t, err)
		expiring := pb.NewConnectionServiceClient(dial(t, h.srv.GRPCAddr(), soon))
		_, err = expiring.ListConnections(ctx, &pb.ListConnectionsRequest{})
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, err := expiring.ListConnections(ctx, &pb.ListConnectionsRequest{})
			return status.Code(err) == codes.Unauthenticated
		}, 5*time.Second, 50*time.Millisecond)

		// Calls with the keys left their traces in logs and the audit log; none holds a key's secret.
		_, err = h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x"}})
		require.NoError(t, err)
		audit := h.doAs(t, h.platformKey, http.MethodGet, "/v1/audit-events", "")
		require.Equal(t, http.StatusOK, audit.status)
		dump := databaseText(t, dbURL)
		for _, k := range []string{key, soon, h.key, h.platformKey} {
			secretPart := k[strings.LastIndexByte(k, '_')+1:]
			require.NotContains(t, h.logs.String(), secretPart)
			require.NotContains(t, audit.raw, secretPart)
			require.NotContains(t, dump, secretPart)
		}
		require.Contains(t, dump, rec.ID, "the dump does hold the keys' public ids")
	})
}

// TestForwardedCertificateCannotBeForged: only this process's gateway may say which client
// certificate a REST caller showed; the header cannot be sent from outside over either protocol.
func TestForwardedCertificateCannotBeForged(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	ctx := context.Background()
	_, _, err := h.srv.KeyAdmin().Create(ctx, app.NewKeyRequest{Role: store.RolePlatform, Name: "backend", CertCN: "handy-backend"})
	require.NoError(t, err)

	anon := pb.NewConnectionServiceClient(dial(t, h.srv.GRPCAddr(), ""))
	forged := metadata.AppendToOutgoingContext(ctx, auth.ForwardedCertHeader, "handy-backend")
	_, err = anon.ListConnections(forged, &pb.ListConnectionsRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))

	req, err := http.NewRequest(http.MethodGet, h.rest+"/v1/connections", nil)
	require.NoError(t, err)
	req.Header.Set("Grpc-Metadata-"+auth.ForwardedCertHeader, "handy-backend")
	req.Header.Set(auth.ForwardedCertHeader, "handy-backend")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// databaseText is everything the tables that could hold a key keep, as text, for grepping.
func databaseText(t *testing.T, dbURL string) string {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dbURL, nil)
	require.NoError(t, err)
	defer db.Close()
	var b strings.Builder
	for _, table := range []string{"api_keys", "audit_events", "connections", "runs", "run_items"} {
		rows, err := db.SQL.Query("SELECT * FROM " + table)
		require.NoError(t, err)
		cols, err := rows.Columns()
		require.NoError(t, err)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				if raw, ok := v.([]byte); ok {
					fmt.Fprintf(&b, "%s %x|", raw, raw)
					continue
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteByte('\n')
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		for _, p := range []string{path, path + "-wal"} {
			if raw, err := os.ReadFile(strings.SplitN(p, "?", 2)[0]); err == nil {
				b.Write(raw)
			}
		}
	}
	return b.String()
}
