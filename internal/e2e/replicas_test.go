package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/testdb"
)

// TestTwoReplicasOnOnePostgres runs two service processes on one PostgreSQL database, with their
// schedules on, and triggers sales syncs through both at once: no sync of the connection runs
// twice at the same time, no order is created twice, and no schedule slot is fanned out twice.
func TestTwoReplicasOnOnePostgres(t *testing.T) {
	t.Parallel()
	dbURL := testdb.Postgres(t)
	c := newCompany(t)
	key := newKey()
	a := start(t, dbURL, key)
	b := start(t, dbURL, key)
	connID := c.connect(t, a)
	sales := c.sales(t, 200)
	c.bind.Inject("POST /api/Orders", bindsim.Fault{Latency: 5 * time.Millisecond, Times: 200})

	ctx := context.Background()
	var wg sync.WaitGroup
	for _, p := range []*proc{a, b} {
		wg.Go(func() {
			for range 15 {
				_, err := p.runs().TriggerSync(ctx, &pb.TriggerSyncRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES})
				require.NoError(t, err)
				time.Sleep(60 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	if !assert.Eventually(t, func() bool { return c.orderCount() >= len(sales) }, 60*time.Second, 100*time.Millisecond) {
		t.Fatalf("%d of %d sales reached Bind; the connection's runs:\n%s", c.orderCount(), len(sales), runStates(t, a, connID))
	}
	// Let every queued follow-up finish.
	require.Eventually(t, func() bool {
		runs, err := a.runs().ListRuns(ctx, &pb.ListRunsRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES, PageSize: 500})
		require.NoError(t, err)
		for _, r := range runs.GetRuns() {
			if r.GetFinishTime() == nil {
				return false
			}
		}
		return true
	}, 60*time.Second, 100*time.Millisecond)
	c.requireExactlyOnce(t, sales)

	// No two sales runs of the connection overlapped in time.
	runs, err := b.runs().ListRuns(ctx, &pb.ListRunsRequest{ConnectionId: connID, Kind: pb.SyncKind_SYNC_KIND_SALES, PageSize: 500})
	require.NoError(t, err)
	type span struct{ start, end time.Time }
	var spans []span
	for _, r := range runs.GetRuns() {
		if r.GetStartTime() != nil {
			spans = append(spans, span{r.GetStartTime().AsTime(), r.GetFinishTime().AsTime()})
		}
	}
	require.GreaterOrEqual(t, len(spans), 2, "triggers while a sync runs queue one follow-up")
	sort.Slice(spans, func(i, j int) bool { return spans[i].start.Before(spans[j].start) })
	for i := 1; i < len(spans); i++ {
		require.False(t, spans[i].start.Before(spans[i-1].end), "runs %d and %d overlap", i-1, i)
	}

	// Each schedule slot was fanned out once, whichever replica led.
	pg, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer pg.Close(ctx)
	var dup int
	require.NoError(t, pg.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT args->>'sync_kind', args->>'slot' FROM river_job WHERE kind = 'handybind.fanout'
		GROUP BY 1, 2 HAVING count(*) > 1) d`).Scan(&dup))
	require.Zero(t, dup)
	var fanouts int
	require.NoError(t, pg.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'handybind.fanout'`).Scan(&fanouts))
	require.Positive(t, fanouts, "the schedules ran (catching up on start)")
}

// runStates lists a connection's runs, one a line, for a failure's message.
func runStates(t testing.TB, p *proc, connID string) string {
	t.Helper()
	runs, err := p.runs().ListRuns(context.Background(), &pb.ListRunsRequest{ConnectionId: connID, PageSize: 500})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, r := range runs.GetRuns() {
		fmt.Fprintf(&b, "%s %s %s trigger=%s started=%s finished=%s processed=%d error=%q\n", r.GetId(), r.GetKind(), r.GetState(),
			r.GetTrigger(), r.GetStartTime().AsTime().Format(time.RFC3339Nano), r.GetFinishTime().AsTime().Format(time.RFC3339Nano), r.GetProcessed(), r.GetError())
	}
	return b.String()
}
