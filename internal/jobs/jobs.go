// Package jobs runs the syncs with River: periodic fan-outs per schedule slot, one sync job per
// connection and kind (unique while queued or running, so a manual trigger merges into a queued
// one), retries with backoff, timeouts and crash rescue. Jobs live in the service's own database,
// PostgreSQL or SQLite, and are inserted in the same transaction as the change that asks for them.
package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/propagation"
	"riverqueue.com/riverui"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/syncer"
	"github.com/handybind/handybind/internal/tracing"
)

// Schedule is when a sync kind's fan-out fires, in UTC whatever the machine's zone: at fixed
// times of day, or every interval counted from midnight. River's periodic jobs ask it for the
// next time.
type Schedule struct {
	// Every fires every interval from 00:00 UTC (it must divide a day).
	Every time.Duration
	// At fires at these offsets from 00:00 UTC, ascending.
	At []time.Duration
}

// Next returns the first firing strictly after t.
func (s Schedule) Next(t time.Time) time.Time {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if s.Every > 0 {
		return day.Add((t.Sub(day)/s.Every + 1) * s.Every)
	}
	for _, at := range s.At {
		if next := day.Add(at); next.After(t) {
			return next
		}
	}
	return day.AddDate(0, 0, 1).Add(s.At[0])
}

// Schedules of the syncs (P1, S1, D1).
func Schedules() map[store.SyncKind]Schedule {
	return map[store.SyncKind]Schedule{
		store.SyncProducts:     {At: []time.Duration{8 * time.Hour, 16 * time.Hour}},
		store.SyncSales:        {Every: 10 * time.Minute},
		store.SyncDeletedSales: {Every: 10 * time.Minute},
	}
}

// A sync job has no wall-clock timeout: the engine stops a sync that makes no progress, and
// takes over one whose process died when its lease runs out (syncer/lease.go). River's own rescue
// of a job left running by a dead process is only the last resort behind the leases: the next
// trigger of that sync runs as a follow-up meanwhile, and a rescued job runs one more sync.
const rescueStuckJobsAfter = 2 * time.Hour

// maxRetryWait caps the wait between two attempts of a failing sync: never longer than the sales
// interval, so a failing job never holds back the connection's schedule.
const maxRetryWait = 5 * time.Minute

// SyncArgs asks for one sync of one connection. Unique by connection and kind while available,
// pending, scheduled, running or retryable, so triggers merge into a queued sync. A trigger that
// arrives while the sync runs is a follow-up (Followup true, unique on its own): the running sync
// may have read its window before the new data came, so one more run is owed, and only one.
type SyncArgs struct {
	ConnectionID string `json:"connection_id" river:"unique"`
	SyncKind     string `json:"sync_kind" river:"unique"`
	Followup     bool   `json:"followup" river:"unique"`
	Trigger      string `json:"trigger"`
	RunID        string `json:"run_id"`
	// TraceParent continues the caller's trace (W3C traceparent) in the job.
	TraceParent string `json:"traceparent,omitempty"`
}

// Kind implements river.JobArgs.
func (SyncArgs) Kind() string { return "handybind.sync" }

var activeStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled,
}

// InsertOpts implements river.JobArgsWithInsertOpts.
func (SyncArgs) InsertOpts() river.InsertOpts {
	// A sync of an active connection is never discarded: it is tried again, at most maxRetryWait
	// apart, until it goes or the connection stops being active (then it ends without a run).
	return river.InsertOpts{MaxAttempts: 10000, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: activeStates}}
}

// FanoutArgs is one schedule slot of one kind: it enqueues a sync for every active connection.
type FanoutArgs struct {
	SyncKind string    `json:"sync_kind" river:"unique"`
	Slot     time.Time `json:"slot" river:"unique"`
}

// Kind implements river.JobArgs.
func (FanoutArgs) Kind() string { return "handybind.fanout" }

// InsertOpts implements river.JobArgsWithInsertOpts: a slot runs once, even when a new leader
// catches up with RunOnStart after another already inserted it.
func (FanoutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Queue is the River client with handybind's workers.
type Queue struct {
	client *river.Client[*sql.Tx]
	db     *sqlstore.DB
	store  store.Store
	engine *syncer.Engine
	log    *slog.Logger
	reap   time.Duration
	spread time.Duration
	stop   chan struct{}
	done   chan struct{}
}

// Options configure a Queue.
type Options struct {
	// Workers is how many syncs run at once [4 on SQLite, where one writer serialises them
	// anyway; 16 on PostgreSQL, where syncs mostly wait on Handy and Bind].
	Workers int
	// Periodic turns the schedules on [on in the service, off in tests that trigger by hand].
	Periodic bool
	// PollInterval is how often jobs are looked for where there is no LISTEN/NOTIFY [1s].
	PollInterval time.Duration
	// ReapEvery is how often runs whose process died are looked for [15s].
	ReapEvery time.Duration
	// Spread is how far after its slot a connection's scheduled sync may start [DefaultSpread].
	Spread time.Duration
}

// New builds a Queue on the service's database. Start runs it.
func New(db *sqlstore.DB, st store.Store, engine *syncer.Engine, log *slog.Logger, o Options) (*Queue, error) {
	if o.Workers == 0 {
		o.Workers = 4
		if db.Dialect == sqlstore.Postgres {
			o.Workers = 16
		}
	}
	if o.PollInterval == 0 {
		o.PollInterval = time.Second
	}
	if o.ReapEvery == 0 {
		o.ReapEvery = 15 * time.Second
	}
	if o.Spread == 0 {
		o.Spread = DefaultSpread
	}
	q := &Queue{db: db, store: st, engine: engine, log: log, reap: o.ReapEvery, spread: o.Spread}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{engine: engine, log: log})
	river.AddWorker(workers, &fanoutWorker{q: q})

	cfg := &river.Config{
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: o.Workers}},
		Workers:              workers,
		JobTimeout:           -1,
		RescueStuckJobsAfter: rescueStuckJobsAfter,
		FetchPollInterval:    o.PollInterval,
		Logger:               log,
	}
	if o.Periodic {
		schedules := Schedules()
		for _, kind := range []store.SyncKind{store.SyncProducts, store.SyncSales, store.SyncDeletedSales} {
			sched := schedules[kind]
			cfg.PeriodicJobs = append(cfg.PeriodicJobs, river.NewPeriodicJob(sched, func() (river.JobArgs, *river.InsertOpts) {
				// The slot is the minute the schedule fired in: unique per slot across replicas.
				return FanoutArgs{SyncKind: string(kind), Slot: time.Now().UTC().Truncate(time.Minute)}, nil
			}, &river.PeriodicJobOpts{ID: "fanout-" + string(kind), RunOnStart: kind != store.SyncProducts}))
		}
	}
	var driver riverdriver.Driver[*sql.Tx]
	if db.Dialect == sqlstore.SQLite {
		driver = riversqlite.New(db.SQL)
	} else {
		driver = riverdatabasesql.NewWithPgxListener(db.SQL, db.ListenPool)
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, fmt.Errorf("river: %w", err)
	}
	q.client = client
	return q, nil
}

// Start runs the workers (and, on the leader, the schedules) until Stop, and closes the runs of
// processes that died, at once and then every ReapEvery, asking for their syncs again.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return err
	}
	q.stop, q.done = make(chan struct{}), make(chan struct{})
	go q.reaper(ctx)
	return nil
}

// Stop lets running syncs finish (bounded by ctx) and stops fetching new ones.
func (q *Queue) Stop(ctx context.Context) error {
	if q.stop != nil {
		close(q.stop)
		<-q.done
	}
	return q.client.Stop(ctx)
}

// Idle Handy budgets are pruned at most this often, once idle this long.
const (
	pruneBudgetsEvery = time.Hour
	budgetIdle        = time.Hour
)

func (q *Queue) reaper(ctx context.Context) {
	defer close(q.done)
	t := time.NewTicker(q.reap)
	defer t.Stop()
	var pruned time.Time
	for {
		if time.Since(pruned) >= pruneBudgetsEvery {
			if n, err := q.db.PruneBudgets(ctx, budgetIdle); err != nil {
				q.log.WarnContext(ctx, "pruning idle Handy budgets", "error", err)
			} else if n > 0 {
				q.log.InfoContext(ctx, "idle Handy budgets pruned", "count", n)
			}
			pruned = time.Now()
		}
		abandoned, err := q.engine.Reap(ctx)
		if err != nil {
			q.log.WarnContext(ctx, "looking for abandoned runs", "error", err)
		}
		for _, r := range abandoned {
			// The dead run's sync runs again now, not at the next slot.
			if _, err := q.Trigger(ctx, r.ConnectionID, r.Kind, store.TriggerSchedule); err != nil && !errs.Is(err, errs.KindFailedPrecondition) {
				q.log.WarnContext(ctx, "asking again for an abandoned sync", "connection_id", r.ConnectionID, "kind", r.Kind, "error", err)
			}
		}
		select {
		case <-q.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Enqueue asks for a sync inside the transaction tx, recording a queued run. When the same sync
// of the connection is already queued or running, it merges into it and returns that run.
func (q *Queue) Enqueue(ctx context.Context, tx store.Store, connectionID string, kind store.SyncKind, trigger store.RunTrigger) (*store.Run, error) {
	return q.enqueue(ctx, tx, connectionID, kind, trigger, time.Time{})
}

// DefaultSpread is how far after its slot a connection's scheduled sales or deleted-sales sync may
// start: a stable offset per connection within it, so that thousands of connections do not call
// Handy and Bind in the same second. Half the 10-minute interval, so each sync ends well within
// its slot; products, twice a day, spread over three times as long.
const DefaultSpread = 5 * time.Minute

// spreadOf is the spread of a kind's syncs, given the sales syncs' spread.
func spreadOf(kind store.SyncKind, spread time.Duration) time.Duration {
	if kind == store.SyncProducts {
		return 3 * spread
	}
	return spread
}

// Offset is a connection's stable place, to the second, within spread.
func Offset(connectionID string, kind store.SyncKind, spread time.Duration) time.Duration {
	spread = spreadOf(kind, spread)
	if spread < time.Second {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(connectionID))
	_, _ = h.Write([]byte(kind))
	// FNV's low bits follow its input's closely (similar ids would crowd a few seconds): mix
	// them as SplitMix64 does before taking the remainder.
	x := h.Sum64()
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	x ^= x >> 31
	return time.Duration(x%uint64(spread/time.Second)) * time.Second
}

func (q *Queue) enqueue(ctx context.Context, tx store.Store, connectionID string, kind store.SyncKind, trigger store.RunTrigger, at time.Time) (*store.Run, error) {
	sqlTx, ok := sqlstore.SQLTx(tx)
	if !ok {
		return nil, errors.New("jobs: Enqueue needs the store of a transaction")
	}
	runID := uuid.Must(uuid.NewV7()).String()
	args := SyncArgs{ConnectionID: connectionID, SyncKind: string(kind), Trigger: string(trigger), RunID: runID}
	carrier := propagation.MapCarrier{}
	tracing.Propagator.Inject(ctx, carrier)
	args.TraceParent = carrier["traceparent"]
	var opts *river.InsertOpts
	if !at.IsZero() {
		opts = &river.InsertOpts{ScheduledAt: at}
	}
	res, err := q.client.InsertTx(ctx, sqlTx, args, opts)
	if err == nil && res.UniqueSkippedAsDuplicate && res.Job.State == rivertype.JobStateRunning {
		args.Followup = true
		res, err = q.client.InsertTx(ctx, sqlTx, args, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("enqueueing a %s sync: %w", kind, err)
	}
	if res.UniqueSkippedAsDuplicate && at.IsZero() && res.Job.State == rivertype.JobStateScheduled {
		// A trigger for now merges into a sync scheduled later in its slot: it runs now.
		if _, err := q.client.JobRetryTx(ctx, sqlTx, res.Job.ID); err != nil {
			return nil, fmt.Errorf("bringing the scheduled %s sync forward: %w", kind, err)
		}
	}
	if res.UniqueSkippedAsDuplicate {
		// Merged into the sync already queued: every job is inserted here with its run.
		var existing SyncArgs
		if err := json.Unmarshal(res.Job.EncodedArgs, &existing); err != nil {
			return nil, fmt.Errorf("reading the queued %s sync: %w", kind, err)
		}
		return tx.GetRun(ctx, existing.RunID)
	}
	run := &store.Run{ID: runID, ConnectionID: connectionID, Kind: kind, Trigger: trigger, State: store.RunQueued}
	if err := tx.CreateRun(ctx, run); err != nil {
		return nil, err
	}
	return run, nil
}

// Trigger enqueues a sync in its own transaction.
func (q *Queue) Trigger(ctx context.Context, connectionID string, kind store.SyncKind, trigger store.RunTrigger) (*store.Run, error) {
	return q.trigger(ctx, connectionID, kind, trigger, time.Time{})
}

func (q *Queue) trigger(ctx context.Context, connectionID string, kind store.SyncKind, trigger store.RunTrigger, at time.Time) (*store.Run, error) {
	var out *store.Run
	err := q.store.Tx(ctx, func(tx store.Store) error {
		c, err := tx.GetConnection(ctx, connectionID)
		if err != nil {
			return err
		}
		if c.State != store.ConnectionActive {
			return errs.FailedPrecondition("connection %s is %s; activate it first", c.ID, c.State)
		}
		out, err = q.enqueue(ctx, tx, connectionID, kind, trigger, at)
		return err
	})
	return out, err
}

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	engine *syncer.Engine
	log    *slog.Logger
}

// Timeout implements river.Worker: none (see rescueStuckJobsAfter).
func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration { return -1 }

// NextRetry implements river.Worker: River's backoff, capped at maxRetryWait.
func (w *syncWorker) NextRetry(job *river.Job[SyncArgs]) time.Time {
	wait := time.Duration(job.Attempt*job.Attempt) * time.Second
	return time.Now().Add(min(wait, maxRetryWait))
}

func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	a := job.Args
	if a.TraceParent != "" {
		ctx = tracing.Propagator.Extract(ctx, propagation.MapCarrier{"traceparent": a.TraceParent})
	}
	_, err := w.engine.RunQueued(ctx, a.ConnectionID, store.SyncKind(a.SyncKind), store.RunTrigger(a.Trigger), a.RunID)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syncer.ErrInterrupted):
		// The service is stopping: the run is recorded as interrupted, and the job waits in the
		// queue for the next start, which resumes from the cursor.
		return river.JobSnooze(time.Second)
	case errors.Is(err, syncer.ErrBusy):
		// The same sync of this connection is running (a follow-up waits for it to end).
		return river.JobSnooze(2 * time.Second)
	case errors.Is(err, syncer.ErrInactive), errs.Is(err, errs.KindNotFound):
		w.log.InfoContext(ctx, "sync not run", "connection_id", a.ConnectionID, "kind", a.SyncKind, "reason", err.Error())
		return nil
	case errors.Is(err, bind.ErrCredentialsRejected), errors.Is(err, handy.ErrCredentialsRejected), errs.Is(err, errs.KindFailedPrecondition):
		// Retrying cannot help until a person acts: the run records why.
		return river.JobCancel(err)
	}
	return err
}

type fanoutWorker struct {
	river.WorkerDefaults[FanoutArgs]
	q *Queue
}

func (w *fanoutWorker) Work(ctx context.Context, job *river.Job[FanoutArgs]) error {
	return w.q.Fanout(ctx, store.SyncKind(job.Args.SyncKind), job.Args.Slot)
}

// Fanout asks for a kind's sync of every active connection, each at its own offset after slot.
// A page of connections is asked for in one transaction: one commit per page rather than per
// connection is what lets a replica fan out ten thousand connections in seconds.
func (q *Queue) Fanout(ctx context.Context, kind store.SyncKind, slot time.Time) error {
	const pageSize = 200
	var after string
	for {
		cs, err := q.store.ListConnections(ctx, store.ConnectionFilter{State: store.ConnectionActive, AfterID: after, Limit: pageSize})
		if err != nil {
			return err
		}
		err = q.store.Tx(ctx, func(tx store.Store) error {
			for _, c := range cs {
				// Paused or deleted since it was listed: its sync is not asked for.
				now, err := tx.GetConnection(ctx, c.ID)
				if errs.Is(err, errs.KindNotFound) || (err == nil && now.State != store.ConnectionActive) {
					continue
				}
				if err != nil {
					return err
				}
				// Each connection at its own second of the slot.
				if _, err := q.enqueue(ctx, tx, c.ID, kind, store.TriggerSchedule, slot.Add(Offset(c.ID, kind, q.spread))); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			// One connection's failure must not cost the page's others their slot: ask for each
			// in its own transaction, and report what still fails (River tries the fan-out again,
			// and what was asked for merges).
			q.log.WarnContext(ctx, "fanning out a page of connections at once failed; asking one by one", "kind", kind, "error", err)
			var failed []error
			for _, c := range cs {
				_, err := q.trigger(ctx, c.ID, kind, store.TriggerSchedule, slot.Add(Offset(c.ID, kind, q.spread)))
				if err != nil && !errs.Is(err, errs.KindFailedPrecondition) && !errs.Is(err, errs.KindNotFound) {
					failed = append(failed, fmt.Errorf("connection %s: %w", c.ID, err))
				}
			}
			err = errors.Join(failed...)
		}
		if err != nil {
			return err
		}
		if len(cs) < pageSize {
			return nil
		}
		after = cs[len(cs)-1].ID
	}
}

// UI is River's own UI over this queue, served under prefix; start it before serving.
func (q *Queue) UI(prefix string) (*riverui.Handler, error) {
	return riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(q.client, nil),
		Logger:    q.log,
		Prefix:    prefix,
		// Job arguments carry connection ids and trace parents, nothing secret; shown folded.
		JobListHideArgsByDefault: true,
	})
}
