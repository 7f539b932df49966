package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/store"
)

// TestHostileMappingChecksOverTheAPI: an integrator's mapping checks that would each build
// gigabytes are refused with a 4xx, 16 at once, and the service keeps answering. The bounds
// themselves are measured in internal/mapping and internal/api; this proves they hold behind the
// real listeners, with a key, on both databases.
// Mutations that make it fail: removing the mapping limits (a 5xx or a timeout), or the key check.
func TestHostileMappingChecksOverTheAPI(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../mappings/handy-bind/v1.yaml")
	require.NoError(t, err)
	comments := "    Comments: >-\n      \"Vendedor: \" + seller.name + \" <\" + seller.email + \">\"\n      + (blank(sale.comment) ? \"\" : \". \" + trim(sale.comment))\n"
	require.Contains(t, string(raw), comments)
	hostile := strings.Replace(string(raw), comments, "    Comments: |-\n      "+strings.Repeat("seller.name + ", 74)+"seller.name\n", 1) +
		fmt.Sprintf("\n  - {name: big, target: order, input: {sale: {id: 1}, connection: *conn, seller: {name: %q}}, expect: {PurchaseOrder: \"1\"}}\n", strings.Repeat("a", 512<<10))
	body, err := json.Marshal(map[string]any{"mapping": map[string]any{"source": hostile}})
	require.NoError(t, err)

	backends(t, func(t *testing.T, dbURL string) {
		h := startServer(t, testConfig(t, dbURL))
		integrator := mintKey(t, h.srv, store.RoleIntegrator, "acme")
		require.Equal(t, http.StatusUnauthorized, h.doAs(t, "", http.MethodPost, "/v1/mappings:test", string(body)).status)

		var wg sync.WaitGroup
		answers := make([]restResponse, 16)
		start := time.Now()
		for i := range answers {
			wg.Go(func() { answers[i] = h.doAs(t, integrator, http.MethodPost, "/v1/mappings:test", string(body)) })
		}
		wg.Wait()
		for i, a := range answers {
			switch a.status {
			case http.StatusOK: // the check ran and was stopped at its limit: a failed test, said so
				require.NotEqual(t, true, a.body["passed"], "call %d", i)
				require.Contains(t, a.raw, "the limit is 1 MiB", "call %d", i)
			case http.StatusTooManyRequests: // four checks run at once; the rest are told to retry
				require.Contains(t, a.raw, "retry", "call %d", i)
			default:
				t.Fatalf("call %d answered %d: %s", i, a.status, a.raw)
			}
		}
		require.Less(t, time.Since(start), 30*time.Second, "bounded calls end quickly")

		// The service is still there for everyone else.
		_, err := h.connections.ListConnections(context.Background(), &pb.ListConnectionsRequest{})
		require.NoError(t, err)
	})
}
