package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/testdb"
)

// The lease of these tests: a dead process's sync is taken over 3 s after its last renewal.
var leaseFlags = []string{"--lease-ttl", "3s", "--no-schedule"}

// TestKilledMidSalesSyncLeavesEverySaleOnce kills the service with SIGKILL while a sales sync is
// sending orders and starts it again on the same database, without asking for anything: the dead
// run is closed as ABANDONED once its lease runs out, its sync runs again at once and sends the
// rest, and every sale is in Bind exactly once, each order with exactly one "created" item.
func TestKilledMidSalesSyncLeavesEverySaleOnce(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]string{"sqlite": testdb.SQLite(t), "postgres": testdb.Postgres(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, key, p, connID, sales, killed := midSalesRun(t, dbURL)
			p.kill(t)
			require.Less(t, c.orderCount(), len(sales), "the kill must land mid-run")

			p = start(t, dbURL, key, leaseFlags...)
			restarted := time.Now()
			requireRunState(t, p, killed.GetId(), pb.RunState_RUN_STATE_ABANDONED, time.Minute)
			require.Eventually(t, func() bool { return c.orderCount() >= len(sales) }, time.Minute, 100*time.Millisecond,
				"only %d of %d sales reached Bind; see %s", c.orderCount(), len(sales), p.log)
			t.Logf("%s: abandoned run taken over, every sale in Bind %s after the restart", name, time.Since(restarted).Round(100*time.Millisecond))
			requireSettled(t, p, connID)
			c.requireExactlyOnce(t, sales)
			c.requireOneCreatedItemPerOrder(t, p, connID)
		})
	}
}

// TestSIGTERMInterruptsAndTheNextStartResumes stops the service with SIGTERM mid-run: the sale in
// flight is finished, the run is INTERRUPTED with its counts, and the next start resumes the sync
// on its own, with no sale sent twice.
func TestSIGTERMInterruptsAndTheNextStartResumes(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]string{"sqlite": testdb.SQLite(t), "postgres": testdb.Postgres(t)} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, key, p, connID, sales, stopped := midSalesRun(t, dbURL)
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
			require.NoError(t, p.cmd.Wait(), "a graceful stop exits cleanly; see %s", p.log)
			sent := c.orderCount()
			require.Less(t, sent, len(sales), "stopped mid-run")

			p = start(t, dbURL, key, leaseFlags...)
			r, err := p.runs().GetRun(context.Background(), &pb.GetRunRequest{Id: stopped.GetId()})
			require.NoError(t, err)
			require.Equal(t, pb.RunState_RUN_STATE_INTERRUPTED, r.GetState(), r.GetError())
			require.EqualValues(t, sent+1, r.GetCounts().GetCreated(), "its counts: the orders sent and their customer")
			require.Eventually(t, func() bool { return c.orderCount() >= len(sales) }, time.Minute, 100*time.Millisecond,
				"the next start resumes on its own; only %d of %d sales reached Bind; see %s", c.orderCount(), len(sales), p.log)
			requireSettled(t, p, connID)
			c.requireExactlyOnce(t, sales)
			c.requireOneCreatedItemPerOrder(t, p, connID)
		})
	}
}

// TestSurvivingReplicaTakesOver: two replicas on one PostgreSQL database; the one running a sales
// sync is killed, and the other closes its run as ABANDONED and finishes the sync within a minute.
func TestSurvivingReplicaTakesOver(t *testing.T) {
	t.Parallel()
	dbURL := testdb.Postgres(t)
	c := newCompany(t)
	key := newKey()
	a := start(t, dbURL, key, leaseFlags...)
	connID := c.connect(t, a)
	sales := c.sales(t, 150)
	c.bind.Inject("POST /api/Orders", bindsim.Fault{Latency: 15 * time.Millisecond, Times: 150})
	killed, err := a.runs().TriggerSync(context.Background(), &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.orderCount() >= 20 }, 30*time.Second, 5*time.Millisecond)
	b := start(t, dbURL, key, leaseFlags...) // started after the sync, so a is the one running it
	require.Less(t, c.orderCount(), len(sales)-40)
	a.kill(t)
	killedAt := time.Now()

	requireRunState(t, b, killed.GetId(), pb.RunState_RUN_STATE_ABANDONED, time.Minute)
	require.Eventually(t, func() bool { return c.orderCount() >= len(sales) }, time.Minute, 100*time.Millisecond,
		"only %d of %d sales reached Bind; see %s", c.orderCount(), len(sales), b.log)
	t.Logf("the survivor finished the sync %s after the kill", time.Since(killedAt).Round(100*time.Millisecond))
	requireSettled(t, b, connID)
	c.requireExactlyOnce(t, sales)
	c.requireOneCreatedItemPerOrder(t, b, connID)
}

// midSalesRun starts a service on dbURL with a connection and 150 sales, and returns once its
// sales sync has sent 40 of them (creates are slowed so that the run is still going).
func midSalesRun(t *testing.T, dbURL string) (c *company, key string, p *proc, connID string, sales map[string]handy.SalesOrder, run *pb.Run) {
	t.Helper()
	c = newCompany(t)
	key = newKey()
	p = start(t, dbURL, key, leaseFlags...)
	connID = c.connect(t, p)
	sales = c.sales(t, 150)
	c.bind.Inject("POST /api/Orders", bindsim.Fault{Latency: 15 * time.Millisecond, Times: 150})
	run, err := p.runs().TriggerSync(context.Background(), &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.orderCount() >= 40 }, 30*time.Second, 5*time.Millisecond)
	return c, key, p, connID, sales, run
}

func requireRunState(t *testing.T, p *proc, runID string, want pb.RunState, within time.Duration) {
	t.Helper()
	var got *pb.Run
	require.Eventually(t, func() bool {
		r, err := p.runs().GetRun(context.Background(), &pb.GetRunRequest{Id: runID})
		require.NoError(t, err)
		got = r
		return r.GetState() == want
	}, within, 100*time.Millisecond, "run %s: want %s; see %s", runID, want, p.log)
	if want == pb.RunState_RUN_STATE_ABANDONED {
		require.Equal(t, "process stopped while running", got.GetError())
	}
}

// requireSettled waits until no run of the connection is queued or running.
func requireSettled(t *testing.T, p *proc, connID string) {
	t.Helper()
	require.Eventually(t, func() bool {
		runs, err := p.runs().ListRuns(context.Background(), &pb.ListRunsRequest{ConnectionId: connID, PageSize: 500})
		require.NoError(t, err)
		for _, r := range runs.GetRuns() {
			if s := r.GetState(); s == pb.RunState_RUN_STATE_RUNNING || s == pb.RunState_RUN_STATE_QUEUED {
				return false
			}
		}
		return true
	}, time.Minute, 100*time.Millisecond, "a run is left running or queued; see %s", p.log)
}

// requireOneCreatedItemPerOrder checks the history against Bind: every order has exactly one
// "created" sale item, and every such item names an order that is there.
func (c *company) requireOneCreatedItemPerOrder(t *testing.T, p *proc, connID string) {
	t.Helper()
	ctx := context.Background()
	items := map[string]int{} // Bind order id → created items
	runs, err := p.runs().ListRuns(ctx, &pb.ListRunsRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES, PageSize: 500})
	require.NoError(t, err)
	for _, r := range runs.GetRuns() {
		token := ""
		for {
			page, err := p.runs().ListRunItems(ctx, &pb.ListRunItemsRequest{RunId: r.GetId(), PageSize: 1000, PageToken: token,
				Outcome: pb.RunItemOutcome_RUN_ITEM_OUTCOME_CREATED, Entity: pb.RunItemEntity_RUN_ITEM_ENTITY_SALE})
			require.NoError(t, err)
			for _, it := range page.GetItems() {
				items[it.GetBindId()]++
			}
			if token = page.GetNextPageToken(); token == "" {
				break
			}
		}
	}
	orders := map[string]bool{}
	for _, o := range c.bind.Orders() {
		orders[o.ID] = true
		require.Equal(t, 1, items[o.ID], "order %s (sale %s) has %d created items", o.ID, o.PurchaseOrder, items[o.ID])
	}
	for id := range items {
		require.True(t, orders[id], "a created item names order %s, which is not in Bind", id)
	}
}

// TestBacklogLongerThanTheTimeoutDrainsInOneRun: 2,000 sales at 150 Bind requests per second (a
// burst of 150 first) take more than ten times the stall timeout given here (1 s); the sync keeps making progress, so it is
// not cut: one run sends them all, no run is left running and River discards no job.
func TestBacklogLongerThanTheTimeoutDrainsInOneRun(t *testing.T) {
	t.Parallel()
	dbURL := testdb.Postgres(t)
	c := newCompany(t)
	p := start(t, dbURL, newKey(), append([]string{"--job-timeout", "1s", "--bind-rps", "150"}, leaseFlags...)...)
	connID := c.connect(t, p)
	sales := c.sales(t, 2000)
	started := time.Now()
	r, err := p.runs().TriggerSync(context.Background(), &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.NoError(t, err)
	requireRunState(t, p, r.GetId(), pb.RunState_RUN_STATE_SUCCEEDED, 2*time.Minute)
	t.Logf("2,000 sales in one run of %s", time.Since(started).Round(100*time.Millisecond))
	require.Greater(t, time.Since(started), 10*time.Second, "the run lasted ten timeouts")
	requireSettled(t, p, connID)
	c.requireExactlyOnce(t, sales)

	pg, err := pgx.Connect(context.Background(), dbURL)
	require.NoError(t, err)
	defer pg.Close(context.Background())
	var discarded int
	require.NoError(t, pg.QueryRow(context.Background(), `SELECT count(*) FROM river_job WHERE state IN ('discarded', 'cancelled')`).Scan(&discarded))
	require.Zero(t, discarded)
}
