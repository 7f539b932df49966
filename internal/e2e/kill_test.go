package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/testdb"
)

// TestKilledMidSalesSyncLeavesEverySaleOnce kills the service with SIGKILL while a sales sync is
// sending orders, restarts it on the same database, and checks that every sale ends up in Bind
// exactly once: the intents stored before each create let the next run find what the dead one
// sent, by PurchaseOrder, instead of sending it again.
func TestKilledMidSalesSyncLeavesEverySaleOnce(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]string{"sqlite": testdb.SQLite(t), "postgres": testdb.Postgres(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCompany(t)
			key := newKey()
			p := start(t, dbURL, key, "--job-timeout", "4s", "--no-schedule")
			connID := c.connect(t, p)
			sales := c.sales(t, 150)

			// Slow creates, so the kill lands in the middle of the run.
			c.bind.Inject("POST /api/Orders", bindsim.Fault{Latency: 15 * time.Millisecond, Times: 150})
			_, err := p.runs().TriggerSync(context.Background(), &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES})
			require.NoError(t, err)
			require.Eventually(t, func() bool { return c.orderCount() >= 40 }, 30*time.Second, 5*time.Millisecond)
			p.kill(t)
			sentBeforeKill := c.orderCount()
			require.Less(t, sentBeforeKill, len(sales), "the kill must land mid-run")

			// Restarted: the dead run's sync is taken over once it is stale, and completed.
			p = start(t, dbURL, key, "--job-timeout", "4s", "--no-schedule")
			require.Eventually(t, func() bool {
				_, err := p.runs().TriggerSync(context.Background(), &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES})
				require.NoError(t, err)
				return c.orderCount() >= len(sales)
			}, 60*time.Second, 500*time.Millisecond, "only %d of %d sales reached Bind; see %s", c.orderCount(), len(sales), p.log)
			time.Sleep(500 * time.Millisecond) // let a last run finish, so no late duplicate goes unseen
			c.requireExactlyOnce(t, sales)
		})
	}
}
