package syncer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/syncer"
)

// deadRun records a sales run as a process that died would leave it: running, its lease held by
// an instance that is gone, expiring at expires.
func deadRun(t *testing.T, w *world, id string, expires time.Time) *store.Run {
	t.Helper()
	now := time.Now().UTC()
	r := &store.Run{ID: id, ConnectionID: w.conn.ID, Kind: store.SyncSales, Trigger: store.TriggerSchedule,
		State: store.RunRunning, CreatedAt: now.Add(-time.Minute), StartedAt: now.Add(-time.Minute), LeaseOwner: "gone", LeaseExpiresAt: expires, Total: -1}
	require.NoError(t, w.store.CreateRun(context.Background(), r))
	return r
}

// TestDeadRunIsAbandonedWhenItsLeaseRunsOut: a run whose process died keeps its connection's
// sync for as long as its lease lasts, no longer. Reap then closes it as abandoned with the
// reason, and a sync asked for meanwhile runs at once, closing it itself.
func TestDeadRunIsAbandonedWhenItsLeaseRunsOut(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)

		alive := deadRun(t, w, "01900000-0000-7000-8000-000000000001", time.Now().Add(time.Hour))
		_, err := w.engine.Run(ctx, w.conn.ID, store.SyncSales, store.TriggerManual)
		require.ErrorIs(t, err, syncer.ErrBusy, "a lease that has not run out holds the sync")
		reaped, err := w.engine.Reap(ctx)
		require.NoError(t, err)
		require.Empty(t, reaped)
		got, err := w.store.GetRun(ctx, alive.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunRunning, got.State)

		// The lease runs out: the next sync closes the dead run and runs.
		require.NoError(t, w.store.Tx(ctx, func(tx store.Store) error {
			_, err := tx.UpdateRun(ctx, alive.ID, func(r *store.Run) error { r.LeaseExpiresAt = time.Now().Add(-time.Second); return nil })
			return err
		}))
		s := w.sale("C-1", w.ana, line("E-001", 1))
		r := w.run(store.SyncSales)
		require.Equal(t, store.RunSucceeded, r.State)
		w.orderOf(s)
		got, err = w.store.GetRun(ctx, alive.ID)
		require.NoError(t, err)
		require.Equal(t, store.RunAbandoned, got.State)
		require.Equal(t, syncer.AbandonedReason, got.Error)
		require.False(t, got.FinishedAt.IsZero())

		// Reap finds one left by another dead process, without a sync being asked for.
		deadRun(t, w, "01900000-0000-7000-8000-000000000002", time.Now().Add(-time.Second))
		reaped, err = w.engine.Reap(ctx)
		require.NoError(t, err)
		require.Len(t, reaped, 1)
		require.Equal(t, store.RunAbandoned, reaped[0].State)
		running, err := w.store.ListRuns(ctx, store.RunFilter{State: store.RunRunning, Limit: 10})
		require.NoError(t, err)
		require.Empty(t, running, "no run is left running")
	})
}

// TestInterruptFinishesTheSaleInFlightAndResumes: Interrupt (SIGTERM) ends a sales run after the
// sale in flight, records it as interrupted with its counts, and the next run (a new process)
// sends the rest once, reading from the cursor the interrupted run checkpointed.
// Mutation that makes it fail (checked): not checkpointing the cursor as the window goes.
func TestInterruptFinishesTheSaleInFlightAndResumes(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		w := newWorld(t, dbURL)
		// A backfill of two hours, so that the window is much longer than its overlap.
		c, err := w.engine.ActivateFrom(ctx, w.conn.ID, time.Now().Add(-2*time.Hour), nil)
		require.NoError(t, err)
		w.conn = c
		w.run(store.SyncProducts)
		var sales []handy.SalesOrder
		for i := range 300 {
			s, err := w.handy.CreateSale(handysim.Sale{Customer: "C-1", Seller: w.ana.ID, At: time.Now().UTC().Add(-100*time.Minute + time.Duration(i)*18*time.Second), Lines: []handysim.Line{line("E-001", 1)}})
			require.NoError(t, err)
			sales = append(sales, s)
		}
		w.bind.Inject("POST /api/Orders", bindsim.Fault{Latency: 3 * time.Millisecond, Times: 1000})

		first := w.newEngine(func(*syncer.Deps) {})
		var wg sync.WaitGroup
		var r *store.Run
		var runErr error
		wg.Add(1)
		go func() { defer wg.Done(); r, runErr = first.Run(ctx, w.conn.ID, store.SyncSales, store.TriggerManual) }()
		require.Eventually(t, func() bool { return len(w.bind.Orders()) >= 120 }, 20*time.Second, time.Millisecond)
		first.Interrupt()
		wg.Wait()
		require.ErrorIs(t, runErr, syncer.ErrInterrupted)
		require.Equal(t, store.RunInterrupted, r.State)
		sent := len(w.bind.Orders())
		require.Less(t, sent, len(sales), "stopped before the end")
		require.Equal(t, sent+1, r.Counts.Created, "its counts are what it did: the orders and their customer")
		require.Equal(t, sent, createdSales(w.items(r)), "one item for each order sent, none for the rest")

		second := w.newEngine(func(*syncer.Deps) {})
		next, err := second.Run(ctx, w.conn.ID, store.SyncSales, store.TriggerManual)
		require.NoError(t, err)
		require.Equal(t, store.RunSucceeded, next.State)
		require.Equal(t, len(sales)-sent, createdSales(w.items(next)))
		require.Less(t, next.Processed, len(sales), "resumed from the checkpoint, not from the window's start")
		for _, s := range sales {
			w.orderOf(s)
		}
	})
}

// TestStuckSyncIsStoppedAndALongOneIsNot: a sync that makes no progress for the stall timeout is
// stopped and recorded as failed (to be retried); one that keeps making progress runs for many
// times that timeout and drains its backlog in one run, its processed count growing as it goes.
func TestStuckSyncIsStoppedAndALongOneIsNot(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		fast := func(d *syncer.Deps) { d.StallTimeout, d.LeaseRenew = 400*time.Millisecond, 50*time.Millisecond }

		// A backlog that takes several times the stall timeout.
		const backlog = 1500
		for i := range backlog {
			_, err := w.handy.CreateSale(handysim.Sale{Customer: "C-2", Seller: w.ana.ID, At: time.Now().UTC().Add(-10*time.Minute + time.Duration(i)*time.Millisecond), Lines: []handysim.Line{line("L-001", 1)}})
			require.NoError(t, err)
		}
		w.bind.Inject("POST /api/Orders", bindsim.Fault{Latency: time.Millisecond, Times: backlog})
		e := w.newEngine(fast)
		var wg sync.WaitGroup
		var r *store.Run
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			r, err = e.Run(ctx, w.conn.ID, store.SyncSales, store.TriggerManual)
			require.NoError(t, err)
		}()
		var seen []int
		start := time.Now()
		for len(seen) < 50 {
			runs, err := w.store.ListRuns(ctx, store.RunFilter{ConnectionID: w.conn.ID, Kind: store.SyncSales, Limit: 1})
			require.NoError(t, err)
			if len(runs) == 1 && runs[0].State != store.RunRunning {
				break
			}
			if len(runs) == 1 && (len(seen) == 0 || runs[0].Processed != seen[len(seen)-1]) {
				seen = append(seen, runs[0].Processed)
			}
			time.Sleep(20 * time.Millisecond)
		}
		wg.Wait()
		require.Equal(t, store.RunSucceeded, r.State, r.Error)
		require.Equal(t, backlog, createdSales(w.items(r)))
		require.Equal(t, backlog, r.Total, "the window's count, from Handy's pagination")
		require.Equal(t, backlog, r.Processed)
		require.Greater(t, time.Since(start), 3*400*time.Millisecond, "the run lasted several stall timeouts")
		require.GreaterOrEqual(t, len(seen), 3, "processed was seen growing while it ran: %v", seen)
		require.IsIncreasing(t, seen)

		// Bind stops answering (each create hangs far longer than the stall timeout).
		w.bind.Inject("POST /api/Orders", bindsim.Fault{Hang: true, Times: 1})
		w.sale("C-1", w.ana, line("E-001", 1))
		e = w.newEngine(func(d *syncer.Deps) {
			fast(d)
			d.BindOptions = func(o *bind.Options) { w.deps.BindOptions(o); o.AttemptTimeout = time.Hour }
		})
		r, err := e.Run(ctx, w.conn.ID, store.SyncSales, store.TriggerManual)
		require.Error(t, err, "the job is told to run it again")
		require.Equal(t, store.RunFailed, r.State)
		require.Contains(t, r.Error, "no progress for 400ms")
		health, err := w.store.ListSyncHealth(ctx, []string{w.conn.ID})
		require.NoError(t, err)
		sales := health[w.conn.ID][store.SyncSales]
		require.True(t, sales.LastFailure.After(sales.LastSuccess), "the connection's last sales sync failed")
		require.Contains(t, sales.LastError, "no progress")
	})
}

func createdSales(items []*store.RunItem) int {
	n := 0
	for _, it := range items {
		if it.Entity == store.EntitySale && it.Outcome == store.OutcomeCreated {
			n++
		}
	}
	return n
}

// stalledRun runs a sales sync of a backlog with an engine whose heartbeat never renews the lease.
// Once the first order is in Bind it calls meanwhile (when given), then moves the engine's clock
// past the lease, as for a process that stalled mid-run. It returns the sales and the run.
func stalledRun(t *testing.T, w *world, meanwhile func()) ([]handy.SalesOrder, *store.Run, error) {
	t.Helper()
	w.activate()
	w.run(store.SyncProducts)
	var sales []handy.SalesOrder
	for range 20 {
		sales = append(sales, w.sale("C-1", w.ana, line("E-001", 1)))
	}
	w.bind.Inject("POST /api/Orders", bindsim.Fault{Latency: 50 * time.Millisecond, Times: len(sales)})
	stalled := w.newEngine(func(d *syncer.Deps) { d.LeaseRenew = time.Hour })
	go func() {
		for len(w.bind.Orders()) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		if meanwhile != nil {
			meanwhile()
		}
		w.ahead.Store(int64(time.Hour))
	}()
	r, err := stalled.Run(context.Background(), w.conn.ID, store.SyncSales, store.TriggerManual)
	return sales, r, err
}

// TestRunStopsWritingWhenItsLeaseRunsOut: a run whose lease could not be renewed (here the
// heartbeat never comes; in life a paused process or a database out of reach) writes nothing to
// Bind once the lease has run out, since another process may have taken the run over; the run
// says why and is to be run again, and the next run sends the rest, each sale once.
func TestRunStopsWritingWhenItsLeaseRunsOut(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		sales, r, err := stalledRun(t, w, nil)
		require.Error(t, err, "the job is told to run it again")
		require.Equal(t, store.RunFailed, r.State)
		require.Contains(t, r.Error, "lease ran out")
		n := len(w.bind.Orders())
		require.Positive(t, n)
		require.Less(t, n, len(sales), "it stopped writing once the lease ran out")
		for _, it := range w.items(r) {
			require.NotContains(t, it.Reason, "lease", "no sale is marked as failing for it")
		}

		// A run with a living heartbeat sends the rest; none twice.
		w.ahead.Store(0)
		r = w.run(store.SyncSales)
		require.Equal(t, store.RunSucceeded, r.State, r.Error)
		require.Len(t, w.bind.Orders(), len(sales))
		for _, s := range sales {
			w.orderOf(s)
		}
	})
}

// TestRunTakenOverKeepsItsAbandonedState: when another process has closed a stalled run as
// abandoned before the run notices, the run's end does not overwrite that: the run stays
// ABANDONED with its reason, and what it did is still counted.
func TestRunTakenOverKeepsItsAbandonedState(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		// Another replica, whose clock is past the stalled run's lease, closes the run first.
		other := w.newEngine(func(d *syncer.Deps) { d.Now = func() time.Time { return time.Now().Add(2 * time.Hour) } })
		reaped := make(chan []*store.Run, 1)
		_, r, err := stalledRun(t, w, func() {
			runs, err := other.Reap(context.Background())
			require.NoError(t, err)
			reaped <- runs
		})
		require.Error(t, err)
		closed := <-reaped
		require.Len(t, closed, 1)
		require.Equal(t, closed[0].ID, r.ID)
		require.Equal(t, store.RunAbandoned, r.State, "the run's end leaves the other process's verdict")
		require.Equal(t, syncer.AbandonedReason, r.Error)
		require.Positive(t, r.Counts.Created, "what the run did is counted")
	})
}
