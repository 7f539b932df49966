package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/handybind/handybind/internal/store"
)

// Liveness of a run. A running sync holds a lease on its run that it renews every LeaseRenew,
// writing its progress with it; a lease not renewed for LeaseTTL means the process that held it
// is gone, and the run is closed as abandoned (by Reap, or by the next sync of the same kind,
// which then starts at once). A sync that makes no progress for the stall timeout is stopped and
// recorded as failed, to be retried; one that does is never cut, however long its backlog.
const (
	DefaultLeaseTTL     = 45 * time.Second
	DefaultLeaseRenew   = 2 * time.Second
	DefaultStallTimeout = 5 * time.Minute
)

// AbandonedReason is the error of a run whose process stopped while it ran.
const AbandonedReason = "process stopped while running"

// ErrInterrupted ends a run when the service is stopped on purpose (Interrupt): the record in
// flight is finished, the run is recorded as interrupted with its counts, and the next run
// resumes from the cursor.
var ErrInterrupted = errors.New("the service was stopped; the next run resumes where this one stopped")

// errStalled ends a run that made no progress for the stall timeout.
var errStalled = errors.New("no progress")

// errLeaseLost ends a run whose lease another process found expired and closed.
var errLeaseLost = errors.New("the run's lease was lost: another process took it for abandoned")

// errLeaseRanOut ends a run that is about to write to Bind after its lease ran out unrenewed (the
// process was paused, or the database out of reach, for the lease's whole length): another
// process may have taken the run over, and two writers could send the same record twice.
var errLeaseRanOut = errors.New("the run's lease ran out before it could be renewed; it stopped before writing to Bind, since another process may have taken it over")

// fence returns errLeaseRanOut when the run's lease has run out. The Bind client asks it before
// each attempt of a write (bind.WithWriteGuard), and the sync before the intent it records ahead
// of a write, so that a process that stalled for longer than the lease does not write beside the
// one that took the run over. The heartbeat's renewals keep the lease ahead by LeaseTTL in a
// running process. Replicas judge leases by their own clocks, which must agree (NTP).
func (s *session) fence() error {
	if s.e.d.Now().UnixNano() >= s.rec.leaseUntil.Load() {
		return errLeaseRanOut
	}
	return nil
}

// Interrupt asks every running sync to stop after the record in flight. It cannot be undone: the
// process is stopping.
func (e *Engine) Interrupt() { e.stopOnce.Do(func() { close(e.stopping) }) }

func (e *Engine) interrupted() error {
	select {
	case <-e.stopping:
		return ErrInterrupted
	default:
		return nil
	}
}

func newInstance() string { return uuid.Must(uuid.NewV7()).String() }

// progress is what a run has done so far; the heartbeat reads it while the run writes it.
type progress struct {
	mu        sync.Mutex
	counts    store.Counts
	processed int
	total     int
}

func (p *progress) snapshot() (store.Counts, int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts, p.processed, p.total
}

// done counts one more record handled.
func (s *session) done() {
	s.rec.p.mu.Lock()
	s.rec.p.processed++
	s.rec.p.mu.Unlock()
}

// expect adds n to the records the run knows it has to handle.
func (s *session) expect(n int) {
	s.rec.p.mu.Lock()
	if s.rec.p.total < 0 {
		s.rec.p.total = 0
	}
	s.rec.p.total += n
	s.rec.p.mu.Unlock()
}

// heartbeat renews the run's lease and writes its progress every LeaseRenew until stop is
// called; it cancels the run when its progress stalls or its lease was taken.
func (e *Engine) heartbeat(ctx context.Context, cancel context.CancelCauseFunc, r *recorder) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(e.d.LeaseRenew)
		defer t.Stop()
		lastProcessed, lastMove := -1, e.d.Now()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			counts, processed, total := r.p.snapshot()
			now := e.d.Now()
			if processed != lastProcessed {
				lastProcessed, lastMove = processed, now
			} else if now.Sub(lastMove) >= e.d.StallTimeout {
				cancel(fmt.Errorf("%w for %s: stopped, and retried", errStalled, e.d.StallTimeout))
				return
			}
			until := now.UTC().Add(e.d.LeaseTTL)
			_, err := e.d.Store.UpdateRun(ctx, r.run.ID, func(run *store.Run) error {
				if run.State != store.RunRunning || run.LeaseOwner != e.instance {
					return errLeaseLost
				}
				run.LeaseExpiresAt = until
				run.Counts, run.Processed, run.Total = counts, processed, total
				return nil
			})
			if err == nil {
				r.leaseUntil.Store(until.Truncate(time.Microsecond).UnixNano())
			}
			switch {
			case errors.Is(err, errLeaseLost):
				cancel(errLeaseLost)
				return
			case err != nil:
				// The database is unreachable for now; the lease lasts LeaseTTL, many renewals.
				e.d.Log.WarnContext(ctx, "renewing a run's lease", "run_id", r.run.ID, "error", err)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// Reap closes as abandoned every running run whose lease expired: its process stopped while it
// ran. It returns the runs it closed, so that their syncs can be asked for again at once.
func (e *Engine) Reap(ctx context.Context) ([]*store.Run, error) {
	running, err := e.d.Store.ListRuns(ctx, store.RunFilter{State: store.RunRunning, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var out []*store.Run
	for _, r := range running {
		if !e.expired(r) {
			continue
		}
		closed, err := e.d.Store.UpdateRun(ctx, r.ID, func(run *store.Run) error {
			if run.State != store.RunRunning || !e.expired(run) {
				return errNotExpired
			}
			e.abandon(run)
			return nil
		})
		if errors.Is(err, errNotExpired) {
			continue
		}
		if err != nil {
			return out, err
		}
		e.d.Log.WarnContext(ctx, "run abandoned", "run_id", closed.ID, "connection_id", closed.ConnectionID, "kind", closed.Kind, "reason", AbandonedReason)
		if err := e.d.Store.PutSyncOutcome(ctx, closed.ConnectionID, closed.Kind, false, closed.FinishedAt, AbandonedReason); err != nil {
			return out, err
		}
		out = append(out, closed)
	}
	return out, nil
}

var errNotExpired = errors.New("lease not expired")

// expired says whether a running run's process is taken for gone: its lease ran out, or, for a
// run started before leases existed, it has run longer than StaleRunAfter.
func (e *Engine) expired(r *store.Run) bool {
	now := e.d.Now()
	if r.LeaseExpiresAt.IsZero() {
		return now.Sub(r.StartedAt) >= e.d.StaleRunAfter
	}
	return now.After(r.LeaseExpiresAt)
}

func (e *Engine) abandon(run *store.Run) {
	run.State, run.Error = store.RunAbandoned, AbandonedReason
	run.FinishedAt = e.d.Now().UTC()
	run.LeaseOwner, run.LeaseExpiresAt = "", time.Time{}
}
