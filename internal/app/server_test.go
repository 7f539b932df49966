package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/testdb"
)

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// harness is one running server with a real gRPC client and a REST base URL. Its clients call
// with key, a partner key of tenant "acme"; platformKey reaches every tenant.
type harness struct {
	cfg  app.Config
	srv  *app.Server
	logs *syncBuffer
	conn *grpc.ClientConn
	rest string
	stop func()

	key, platformKey string

	connections pb.ConnectionServiceClient
	runs        pb.RunServiceClient
}

func startServer(t testing.TB, cfg app.Config) *harness {
	t.Helper()
	return startServerOver(t, cfg, insecure.NewCredentials())
}

// startServerOver is startServer with the harness's gRPC client on the given transport.
func startServerOver(t testing.TB, cfg app.Config, creds credentials.TransportCredentials) *harness {
	t.Helper()
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := app.NewServer(ctx, cfg, log)
	require.NoError(t, err)
	require.NoError(t, srv.Listen(ctx))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	key := mintKey(t, srv, store.RolePartner, "acme")
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(creds), grpc.WithPerRPCCredentials(bearer(key)))
	require.NoError(t, err)
	h := &harness{
		cfg: cfg, srv: srv, logs: logs, conn: conn, rest: "http://" + srv.HTTPAddr(),
		key: key, platformKey: mintKey(t, srv, store.RolePlatform, ""),
		connections: pb.NewConnectionServiceClient(conn),
		runs:        pb.NewRunServiceClient(conn),
	}
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = conn.Close()
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("server did not stop")
		}
	}
	t.Cleanup(h.stop)

	require.Eventually(t, func() bool {
		res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && res.GetStatus() == healthpb.HealthCheckResponse_SERVING
	}, 10*time.Second, 20*time.Millisecond)
	return h
}

// mintKey makes an API key as an operator would, and returns its plaintext.
func mintKey(t testing.TB, srv *app.Server, role store.Role, tenant string) string {
	t.Helper()
	key, _, err := srv.KeyAdmin().Create(context.Background(), app.NewKeyRequest{Role: role, Tenant: tenant, Name: "test " + string(role) + " " + tenant})
	require.NoError(t, err)
	return key
}

// bearer sends key with every call.
func bearer(key string) auth.Bearer { return auth.Bearer(key) }

// dial returns a gRPC client that sends key with every call ("" sends none).
func dial(t testing.TB, addr, key string) *grpc.ClientConn {
	t.Helper()
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if key != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(auth.Bearer(key)))
	}
	conn, err := grpc.NewClient(addr, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func testConfig(t testing.TB, dbURL string) app.Config {
	cfg := app.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = dbURL
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Migrate = true
	cfg.MappingsDir = "../../mappings"
	cfg.NoSchedule = true // runs here are the tests' own; the schedules are tested with two replicas
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.AdminAddr = "127.0.0.1:0"
	cfg.AllowHosts = "127.0.0.1" // the simulators
	if strings.HasPrefix(dbURL, "postgres") {
		// PostgreSQL never invents a key (replicas must share one); SQLite tests use the key file.
		key := make([]byte, secret.KeySize)
		_, _ = rand.Read(key)
		cfg.SecretKey = "t1:" + base64.StdEncoding.EncodeToString(key)
	}
	return cfg
}

// backends runs fn once per database, each with a fresh one.
func backends(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, testdb.SQLite(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, testdb.Postgres(t))
	})
}

// admin GETs a path of the admin listener.
func (h *harness) admin(t *testing.T, path string) restResponse {
	t.Helper()
	res, err := http.Get("http://" + h.srv.AdminAddr() + path)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return restResponse{status: res.StatusCode, raw: string(raw), header: res.Header}
}

// restResponse is one REST exchange.
type restResponse struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

func (h *harness) do(t *testing.T, method, path, body string) restResponse {
	t.Helper()
	return h.doAs(t, h.key, method, path, body)
}

// doAs is do with another key ("" sends none).
func (h *harness) doAs(t *testing.T, key, method, path, body string) restResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.rest+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	out := restResponse{status: res.StatusCode, raw: string(raw), header: res.Header}
	if len(raw) > 0 && raw[0] == '{' {
		require.NoError(t, json.Unmarshal(raw, &out.body), "body %s", raw)
	}
	return out
}

func TestConnectionCRUDOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		h := startServer(t, testConfig(t, dbURL))
		ctx := context.Background()

		// Create over gRPC.
		created, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{
			DisplayName: "Distribuidora del Norte",
			Handy:       &pb.HandyCredentials{Token: "handy-token-1"},
			Bind:        &pb.BindCredentials{UserName: "ventas", Token: "bind-token-1"},
			Settings:    &pb.ConnectionSettings{PriceList: "General", Currency: "mxn", Warehouse: "Matriz", LedgerAccount: "105-01"},
		}})
		require.NoError(t, err)
		require.Equal(t, pb.ConnectionState_CONNECTION_STATE_DRAFT, created.GetState())
		require.Equal(t, "MXN", created.GetSettings().GetCurrency())
		require.Equal(t, "America/Mexico_City", created.GetSettings().GetTimeZone())
		require.True(t, created.GetHandy().GetTokenSet())

		// Get over REST.
		got := h.do(t, http.MethodGet, "/v1/connections/"+created.GetId(), "")
		require.Equal(t, http.StatusOK, got.status, got.raw)
		require.Equal(t, "Distribuidora del Norte", got.body["displayName"])
		require.Equal(t, "CONNECTION_STATE_DRAFT", got.body["state"])

		// Two more over REST, then list in pages of two over both protocols.
		for _, name := range []string{"Second", "Third"} {
			res := h.do(t, http.MethodPost, "/v1/connections", fmt.Sprintf(`{"displayName":%q}`, name))
			require.Equal(t, http.StatusOK, res.status, res.raw)
		}
		first := h.do(t, http.MethodGet, "/v1/connections?pageSize=2", "")
		require.Equal(t, http.StatusOK, first.status, first.raw)
		require.Len(t, first.body["connections"], 2)
		token, _ := first.body["nextPageToken"].(string)
		require.NotEmpty(t, token)
		second, err := h.connections.ListConnections(ctx, &pb.ListConnectionsRequest{PageSize: 2, PageToken: token})
		require.NoError(t, err)
		require.Len(t, second.GetConnections(), 1)
		require.Equal(t, "Third", second.GetConnections()[0].GetDisplayName())
		require.Empty(t, second.GetNextPageToken())

		// Update over REST: the gateway derives the mask from the body.
		upd := h.do(t, http.MethodPatch, "/v1/connections/"+created.GetId(), `{"displayName":"Norte SA","settings":{"warehouse":"Sucursal"}}`)
		require.Equal(t, http.StatusOK, upd.status, upd.raw)
		// Update over gRPC with an explicit mask; fields outside the mask are left alone.
		g, err := h.connections.UpdateConnection(ctx, &pb.UpdateConnectionRequest{
			Connection: &pb.Connection{Id: created.GetId(), DisplayName: "ignored", Settings: &pb.ConnectionSettings{TimeZone: "America/Tijuana"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"settings.time_zone"}},
		})
		require.NoError(t, err)
		require.Equal(t, "Norte SA", g.GetDisplayName())
		require.Equal(t, "Sucursal", g.GetSettings().GetWarehouse())
		require.Equal(t, "General", g.GetSettings().GetPriceList())
		require.Equal(t, "America/Tijuana", g.GetSettings().GetTimeZone())
		require.True(t, g.GetUpdateTime().AsTime().After(created.GetUpdateTime().AsTime()))

		// A REST mask may use the JSON names (as the body does) or the proto names; fields
		// outside it are left alone.
		for mask, name := range map[string]string{"displayName,settings.timeZone": "Norte Dos", "display_name,settings.time_zone": "Norte Tres"} {
			upd := h.do(t, http.MethodPatch, "/v1/connections/"+created.GetId()+"?updateMask="+mask,
				`{"displayName":"`+name+`","settings":{"timeZone":"America/Monterrey","warehouse":"not in the mask"}}`)
			require.Equal(t, http.StatusOK, upd.status, upd.raw)
			require.Equal(t, name, upd.body["displayName"])
			require.Equal(t, "Sucursal", upd.body["settings"].(map[string]any)["warehouse"], "outside the mask")
		}

		// Delete over REST; both protocols then say it is gone.
		del := h.do(t, http.MethodDelete, "/v1/connections/"+created.GetId(), "")
		require.Equal(t, http.StatusOK, del.status, del.raw)
		_, err = h.connections.GetConnection(ctx, &pb.GetConnectionRequest{Id: created.GetId()})
		require.Equal(t, codes.NotFound, status.Code(err))
		gone := h.do(t, http.MethodGet, "/v1/connections/"+created.GetId(), "")
		require.Equal(t, http.StatusNotFound, gone.status)
		require.Contains(t, gone.body["message"], created.GetId())
	})
}

func TestInvalidRequestsNameTheField(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	ctx := context.Background()
	existing, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x"}})
	require.NoError(t, err)

	// REST names fields as REST callers write them (camelCase); gRPC, below, as the protos do.
	rest := []struct {
		name, method, path, body string
		status                   int
		mention                  string
	}{
		{"empty name", http.MethodPost, "/v1/connections", `{"displayName":"  "}`, 400, "connection.displayName: is required"},
		{"malformed URL", http.MethodPost, "/v1/connections", `{"displayName":"x","bind":{"baseUrl":"ftp//nope"}}`, 400, "connection.bind.baseUrl: must be"},
		{"page size 10000", http.MethodGet, "/v1/connections?pageSize=10000", "", 400, "pageSize: must be"},
		{"unknown enum", http.MethodGet, "/v1/connections?state=CONNECTION_STATE_BOGUS", "", 400, "state"},
		{"unknown JSON field", http.MethodPost, "/v1/connections", `{"displayName":"x","priceList":"General"}`, 400, `priceList: is not a field of this request`},
		{"bad time zone", http.MethodPost, "/v1/connections", `{"displayName":"x","settings":{"timeZone":"Mars/Base"}}`, 400, "connection.settings.timeZone: "},
		{"bad page token", http.MethodGet, "/v1/connections?pageToken=xyz", "", 400, "pageToken: is not a token"},
		{"not a uuid", http.MethodGet, "/v1/connections/42", "", 400, "id"},
		{"missing connection", http.MethodGet, "/v1/connections/01a21a0f-eea7-7b10-aca4-8d13cd1b39d4", "", 404, "not found"},
		{"missing run", http.MethodGet, "/v1/runs/01a21a0f-eea7-7b10-aca4-8d13cd1b39d4", "", 404, "not found"},
		{"output-only mask", http.MethodPatch, "/v1/connections/" + existing.GetId() + "?updateMask=state", `{"state":"CONNECTION_STATE_ACTIVE"}`, 400, "output only"},
		// Messages a person understands, with the allowed values where there is a list.
		{"no sync kind", http.MethodPost, "/v1/connections/" + existing.GetId() + "/runs", `{}`, 400, "kind: is required: products, sales or deleted_sales"},
		{"not a uuid, in words", http.MethodGet, "/v1/runs/42", "", 400, "id: must be a UUID"},
		{"bad version", http.MethodPatch, "/v1/connections/" + existing.GetId() + "?updateMask=mappingVersion", `{"mappingVersion":"../v1"}`, 400, "must be a version such as v1 or v2"},
		{"bad tenant", http.MethodPost, "/v1/connections", `{"displayName":"x","tenant":"Acme Corp"}`, 400, "must be a tenant name"},
		{"preview target", http.MethodPost, "/v1/mappings:preview", `{"mapping":{"version":"v2"},"target":"invoice","inputJson":"{}"}`, 400, "target: must be product, client, order, order_line or warehouse"},
	}
	for _, tc := range rest {
		t.Run("rest/"+tc.name, func(t *testing.T) {
			res := h.do(t, tc.method, tc.path, tc.body)
			require.Equal(t, tc.status, res.status, res.raw)
			require.Contains(t, res.body["message"], tc.mention)
		})
	}

	grpcCases := []struct {
		name  string
		call  func() error
		code  codes.Code
		field string
	}{
		{"empty name", func() error {
			_, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{}})
			return err
		}, codes.InvalidArgument, "connection.display_name"},
		{"malformed URL", func() error {
			_, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{
				DisplayName: "x", Handy: &pb.HandyCredentials{BaseUrl: "hub.handy.la/api/v2"}}})
			return err
		}, codes.InvalidArgument, "connection.handy.base_url"},
		{"page size 10000", func() error {
			_, err := h.connections.ListConnections(ctx, &pb.ListConnectionsRequest{PageSize: 10000})
			return err
		}, codes.InvalidArgument, "page_size"},
		{"unknown enum", func() error {
			_, err := h.connections.ListConnections(ctx, &pb.ListConnectionsRequest{State: 42})
			return err
		}, codes.InvalidArgument, "state"},
		{"unknown sync kind", func() error {
			_, err := h.runs.TriggerSync(ctx, &pb.TriggerSyncRequest{ConnectionId: "01a21a0f-eea7-7b10-aca4-8d13cd1b39d4", Kind: 7})
			return err
		}, codes.InvalidArgument, "kind"},
		{"missing connection", func() error {
			_, err := h.connections.GetConnection(ctx, &pb.GetConnectionRequest{Id: "01a21a0f-eea7-7b10-aca4-8d13cd1b39d4"})
			return err
		}, codes.NotFound, ""},
	}
	for _, tc := range grpcCases {
		t.Run("grpc/"+tc.name, func(t *testing.T) {
			err := tc.call()
			st := status.Convert(err)
			require.Equal(t, tc.code, st.Code(), st.Message())
			if tc.field == "" {
				return
			}
			var fields []string
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok {
					for _, v := range br.GetFieldViolations() {
						fields = append(fields, v.GetField())
					}
				}
			}
			require.Contains(t, fields, tc.field, st.Message())
			require.Contains(t, st.Message(), tc.field)
		})
	}
}

func TestActivationAndTriggerNeedAReachableActiveConnection(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	ctx := context.Background()
	c, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x"}})
	require.NoError(t, err)

	_, err = h.connections.ActivateConnection(ctx, &pb.ActivateConnectionRequest{Id: c.GetId()})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "has no handy.token and no bind.token")
	_, err = h.runs.TriggerSync(ctx, &pb.TriggerSyncRequest{ConnectionId: c.GetId(), Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), "activate it first")

	// Run history reads are real: an existing connection simply has none yet.
	runs, err := h.runs.ListRuns(ctx, &pb.ListRunsRequest{ConnectionId: c.GetId()})
	require.NoError(t, err)
	require.Empty(t, runs.GetRuns())
}

func TestHealthOpenAPIAndRequestID(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))

	res := h.do(t, http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, res.status, res.raw)
	require.Equal(t, "SERVING", res.body["status"])

	doc := h.do(t, http.MethodGet, "/openapi.json", "")
	require.Equal(t, http.StatusOK, doc.status)
	paths, _ := doc.body["paths"].(map[string]any)
	for _, p := range []string{"/v1/connections", "/v1/connections/{id}:activate", "/v1/runs/{id}", "/v1/runs/{runId}/items", "/v1/mappings:preview"} {
		require.Contains(t, paths, p)
	}

	req, err := http.NewRequest(http.MethodGet, h.rest+"/v1/connections", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "trace-abc-123")
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, "trace-abc-123", r.Header.Get("X-Request-Id"))
	require.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "request_id=trace-abc-123") }, time.Second, 10*time.Millisecond)
}

// TestEveryCallIsLoggedOnceWithItsKeyAndCode reads the one line a call leaves: its method, code,
// request id and the key that made it (whose id is known only after authentication, inside the
// logging interceptor), and never the key itself.
func TestEveryCallIsLoggedOnceWithItsKeyAndCode(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	keyID := strings.SplitN(strings.TrimPrefix(h.key, "hbk_"), "_", 2)[0]

	req, err := http.NewRequest(http.MethodGet, h.rest+"/v1/connections/01a21a0f-eea7-7b10-aca4-8d13cd1b39d4", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "logged-call-1")
	req.Header.Set("Authorization", "Bearer "+h.key)
	r, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusNotFound, r.StatusCode)

	var line string
	require.Eventually(t, func() bool {
		for _, l := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(l, "request_id=logged-call-1") && strings.Contains(l, "finished call") {
				line = l
				return true
			}
		}
		return false
	}, 2*time.Second, 10*time.Millisecond)
	require.Contains(t, line, "grpc.method=GetConnection")
	require.Contains(t, line, "grpc.code=NotFound")
	require.Contains(t, line, "level=WARN")
	require.Contains(t, line, "key_id=hbk_"+keyID)
	require.NotContains(t, h.logs.String(), h.key)
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		cfg := testConfig(t, dbURL)
		h := startServer(t, cfg)
		c, err := h.connections.CreateConnection(context.Background(), &pb.CreateConnectionRequest{Connection: &pb.Connection{
			DisplayName: "Survivor", Handy: &pb.HandyCredentials{Token: "tok"},
		}})
		require.NoError(t, err)
		h.stop()

		cfg.Migrate = false // the schema is already there; a restart must not need the flag
		h2 := startServer(t, cfg)
		got, err := h2.connections.GetConnection(context.Background(), &pb.GetConnectionRequest{Id: c.GetId()})
		require.NoError(t, err)
		require.Equal(t, "Survivor", got.GetDisplayName())
		require.True(t, got.GetHandy().GetTokenSet())
	})
}

func TestServeRefusesSchemaBehind(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testdb.SQLite(t))
	cfg.Migrate = false
	_, err := app.NewServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "handybind migrate")
}

// TestOverloadIsRefusedWithRetryAfter: beyond its rate a key's calls are refused at once, over
// REST with 429 and Retry-After, over gRPC with RESOURCE_EXHAUSTED and a RetryInfo; another key
// is still served.
func TestOverloadIsRefusedWithRetryAfter(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testdb.SQLite(t))
	cfg.KeyRate = 2 // bursts of 4
	h := startServer(t, cfg)
	var refused restResponse
	for range 10 {
		res := h.do(t, http.MethodGet, "/v1/connections", "")
		if res.status != http.StatusOK {
			refused = res
			break
		}
	}
	require.Equal(t, http.StatusTooManyRequests, refused.status, refused.raw)
	require.Equal(t, "1", refused.header.Get("Retry-After"))
	require.Contains(t, refused.raw, "this API key is over its rate of calls")
	require.Contains(t, refused.raw, "google.rpc.RetryInfo")

	_, err := h.connections.ListConnections(context.Background(), &pb.ListConnectionsRequest{})
	require.Equal(t, codes.ResourceExhausted, status.Code(err))
	other := pb.NewConnectionServiceClient(dial(t, h.srv.GRPCAddr(), h.platformKey))
	_, err = other.ListConnections(context.Background(), &pb.ListConnectionsRequest{})
	require.NoError(t, err, "another key has its own budget")
}

// TestGatewayRefusalsNameTheField: what the REST gateway refuses before any handler runs (a query
// parameter it cannot read, an unknown or mistyped body field, a body that is not JSON) carries a
// BadRequest field violation like every other INVALID_ARGUMENT.
func TestGatewayRefusalsNameTheField(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	cases := []struct{ method, path, body, field, says string }{
		{http.MethodGet, "/v1/connections?pageSize=abc", "", "pageSize", "cannot be read"},
		{http.MethodGet, "/v1/connections?state=9", "", "state", "is not one of the values this parameter takes"},
		{http.MethodPost, "/v1/connections", `{"displayName":"x","priceList":"General"}`, "priceList", "is not a field of this request"},
		{http.MethodPost, "/v1/mappings/handy-bind/versions", `{"source":5}`, "source", "has a value of the wrong type"},
		{http.MethodPost, "/v1/connections", `{garbage`, "body", "is not valid JSON for this request"},
	}
	for _, tc := range cases {
		res := h.do(t, tc.method, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, res.status, res.raw)
		require.Contains(t, res.body["message"], tc.field+": "+tc.says)
		details, _ := res.body["details"].([]any)
		require.Len(t, details, 1, res.raw)
		d := details[0].(map[string]any)
		require.Equal(t, "type.googleapis.com/google.rpc.BadRequest", d["@type"])
		v := d["fieldViolations"].([]any)[0].(map[string]any)
		require.Equal(t, tc.field, v["field"], res.raw)
		require.Contains(t, v["description"], tc.says)
	}
}
