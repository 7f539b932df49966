package app_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/testdb"
)

// TestServiceSyncsThroughJobs is also P1's test that activation itself queues the initial product
// sync (trigger ACTIVATION), in the same transaction as the state change.
// Mutations that make it fail: enqueuing nothing at activation; enqueuing with another trigger.
//
// It drives the whole service as Handy's backend would: create and
// activate a connection over gRPC (the initial product sync runs as a job), trigger a sales sync
// over REST, and read the run history, against both simulators over HTTP.
func TestServiceSyncsThroughJobs(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		s := newSims(t)
		hs, bs, seller := s.handy, s.bind, s.seller
		h := startServer(t, testConfig(t, dbURL))
		ctx := context.Background()
		c, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: s.connection("Distribuidora")})
		require.NoError(t, err)
		active, err := h.connections.ActivateConnection(ctx, &pb.ActivateConnectionRequest{Id: c.GetId()})
		require.NoError(t, err)
		require.Equal(t, pb.ConnectionState_CONNECTION_STATE_ACTIVE, active.GetState())
		require.NotNil(t, active.GetSalesFrom(), "where the sales sync starts is shown")
		require.WithinDuration(t, active.GetResolved().GetResolveTime().AsTime().Add(-15*time.Minute), active.GetSalesFrom().AsTime(), time.Second)
		// A backfill start is refused while the connection is active, and beyond 31 days, naming the field.
		res := h.do(t, http.MethodPost, "/v1/connections/"+c.GetId()+":activate", `{"salesSince":"2020-01-01T00:00:00Z"}`)
		require.Equal(t, http.StatusBadRequest, res.status, res.raw)
		require.Contains(t, res.raw, `"field":"salesSince"`)

		waitRun := func(kind pb.SyncKind) *pb.Run {
			var done *pb.Run
			require.Eventually(t, func() bool {
				runs, err := h.runs.ListRuns(ctx, &pb.ListRunsRequest{ConnectionId: c.GetId(), Kind: kind})
				require.NoError(t, err)
				for _, r := range runs.GetRuns() {
					if s := r.GetState(); s == pb.RunState_RUN_STATE_SUCCEEDED || s == pb.RunState_RUN_STATE_PARTIAL || s == pb.RunState_RUN_STATE_FAILED {
						done = r
						return true
					}
				}
				return false
			}, 20*time.Second, 50*time.Millisecond)
			return done
		}
		products := waitRun(pb.SyncKind_SYNC_KIND_PRODUCTS)
		require.Equal(t, pb.RunState_RUN_STATE_SUCCEEDED, products.GetState(), products.GetError())
		require.Equal(t, pb.RunTrigger_RUN_TRIGGER_ACTIVATION, products.GetTrigger())
		require.Equal(t, "v2", products.GetMappingVersion())
		require.Len(t, products.GetMappingChecksum(), 64)
		require.Len(t, bs.Products(), 1)

		sale, err := hs.CreateSale(handysim.Sale{Customer: "C-1", Seller: seller.ID, At: time.Now().UTC().Add(-time.Minute),
			Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(2)}}})
		require.NoError(t, err)
		res = h.do(t, http.MethodPost, "/v1/connections/"+c.GetId()+"/runs", `{"kind":"SYNC_KIND_SALES"}`)
		require.Equal(t, http.StatusOK, res.status, res.raw)
		require.Equal(t, "RUN_STATE_QUEUED", res.body["state"])
		sales := waitRun(pb.SyncKind_SYNC_KIND_SALES)
		require.Equal(t, pb.RunState_RUN_STATE_SUCCEEDED, sales.GetState(), sales.GetError())
		require.Equal(t, res.body["id"], sales.GetId(), "the queued run is the one that ran")

		orders := bs.Orders()
		require.Len(t, orders, 1)
		require.Equal(t, strconv.FormatInt(sale.ID, 10), orders[0].PurchaseOrder)
		require.True(t, orders[0].Total.Equal(sale.TotalSales), "Bind total %s, Handy %s", orders[0].Total, sale.TotalSales)

		items := h.do(t, http.MethodGet, fmt.Sprintf("/v1/runs/%s/items?outcome=RUN_ITEM_OUTCOME_CREATED&entity=RUN_ITEM_ENTITY_SALE", sales.GetId()), "")
		require.Equal(t, http.StatusOK, items.status, items.raw)
		require.Len(t, items.body["items"], 1)
		item := items.body["items"].([]any)[0].(map[string]any)
		require.Equal(t, strconv.FormatInt(sale.ID, 10), item["handyId"])
		require.Equal(t, orders[0].ID, item["bindId"])

		// The connection is healthy, over gRPC and REST, with each kind's last success.
		got, err := h.connections.GetConnection(ctx, &pb.GetConnectionRequest{Id: c.GetId()})
		require.NoError(t, err)
		require.Equal(t, pb.HealthState_HEALTH_STATE_OK, got.GetHealth().GetState(), got.GetHealth().GetReason())
		require.WithinDuration(t, sales.GetFinishTime().AsTime(), got.GetHealth().GetSince().AsTime(), time.Millisecond)
		require.Len(t, got.GetHealth().GetSyncs(), 2, "products and sales have run")
		listed := h.do(t, http.MethodGet, "/v1/connections", "")
		require.Contains(t, listed.raw, `"state":"HEALTH_STATE_OK"`)

		// The run and the health show in the metrics.
		m := h.admin(t, "/metrics")
		require.Contains(t, m.raw, `handybind_connections{health="ok"} 1`)
		require.Contains(t, m.raw, `handybind_connections{health="late"} 0`)
		require.Contains(t, m.raw, "handybind_sales_sync_oldest_success_age_seconds ")
		require.Equal(t, http.StatusOK, m.status)
		require.Contains(t, m.raw, `handybind_sync_runs_total{kind="sales",state="succeeded"} 1`)
		require.Contains(t, m.raw, `handybind_sync_items_total{entity="sale",kind="sales",outcome="created"} 1`)
		// The standard gRPC families (go-grpc-middleware's), and no connection id anywhere.
		require.Contains(t, m.raw, `grpc_server_handled_total{grpc_code="OK",grpc_method="ActivateConnection",grpc_service="handybind.v1.ConnectionService",grpc_type="unary"} 1`)
		require.Contains(t, m.raw, `grpc_server_handling_seconds_bucket{grpc_method="ActivateConnection",grpc_service="handybind.v1.ConnectionService",grpc_type="unary",le=`)
		require.Contains(t, m.raw, `grpc_server_started_total{grpc_method="DeleteConnection",grpc_service="handybind.v1.ConnectionService",grpc_type="unary"} 0`, "every method from the start")
		require.Contains(t, m.raw, "handybind_waiting_sales 0")
		require.Contains(t, m.raw, `handybind_mapping_vm_fallbacks_total{reason="panic"} 0`)
		require.Contains(t, m.raw, `handybind_mapping_vm_fallbacks_total{reason="gave_up"} `)
		require.Contains(t, m.raw, `handybind_upstream_request_duration_seconds_count{method="POST",status="200",system="bind"}`)
		require.Contains(t, m.raw, `handybind_upstream_request_duration_seconds_count{method="GET",status="200",system="handy"}`)
		require.NotContains(t, m.raw, c.GetId())

		// On PostgreSQL the account's Handy budget is the one every replica takes from, named by
		// a hash of its token, never the token.
		if strings.HasPrefix(dbURL, "postgres") {
			var accounts int
			var account []byte
			db, err := sqlstore.Open(ctx, dbURL, nil)
			require.NoError(t, err)
			defer db.Close()
			require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) OVER (), account FROM handy_budgets LIMIT 1`).Scan(&accounts, &account))
			require.Equal(t, 1, accounts)
			require.Len(t, account, sha256.Size)
		}

		// No token reached a log line.
		require.NotContains(t, h.logs.String(), "h-tok")
		require.NotContains(t, h.logs.String(), "b-tok")
	})
}

// TestRiverUIIsOnTheAdminListenerForPlatformKeys: River's UI answers on the admin listener only,
// and only to a platform key (bearer or basic password); on the public HTTP port it is not there.
func TestRiverUIIsOnTheAdminListenerForPlatformKeys(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	get := func(url string, auth func(*http.Request)) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		if auth != nil {
			auth(req)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	admin := "http://" + h.srv.AdminAddr()
	code, _ := get(admin+"/riverui/", nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = get(admin+"/riverui/", func(r *http.Request) { r.SetBasicAuth("ops", h.key) })
	require.Equal(t, http.StatusForbidden, code, "a partner key sees one tenant; River UI shows all")
	code, page := get(admin+"/riverui/", func(r *http.Request) { r.SetBasicAuth("ops", h.platformKey) })
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, page, "<html")
	code, body := get(admin+"/riverui/api/jobs?state=completed", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+h.platformKey) })
	require.Equal(t, http.StatusOK, code, body)
	code, _ = get(h.rest+"/riverui/", func(r *http.Request) { r.SetBasicAuth("ops", h.platformKey) })
	require.Equal(t, http.StatusNotFound, code, "not on the public port")
}
