// Package syncer is the heart of handybind: activation, and the product, sales and deleted-sales
// syncs, for one connection at a time. It knows nothing of gRPC or of how runs are scheduled: the
// API and the job workers both call it.
//
// Exactly once into Bind: before a create is sent, the intent is stored (a pending link); after an
// answer that never came, Bind is searched (orders by PurchaseOrder, clients by name, products by
// Code) before anything is sent again. Nothing is lost: a sale that cannot be sent yet is kept as
// pending with its reason and fetched again by later runs.
package syncer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/metrics"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
)

// MappingName is the mapping the syncs use.
const MappingName = "handy-bind"

// Overlap is how far back each sales window reaches before the stored cursor, so sales that reach
// Handy late or land on a window edge are not missed; ids de-duplicate them.
const Overlap = 15 * time.Minute

// Mappings finds the mapping version a connection of a tenant runs on (catalog.Catalog; a
// mapping.Registry serves its files to every tenant).
type Mappings interface {
	Resolve(tenant, name, version string) (*mapping.Mapping, bool)
}

// Deps are what an Engine works with.
type Deps struct {
	Store    store.Store
	Keys     *secret.Keyring
	Mappings Mappings
	Budgets  *handy.Budgets
	Log      *slog.Logger
	// Now is the clock [time.Now].
	Now func() time.Time
	// StaleRunAfter is how long a run without a lease (one started before leases existed) may stay
	// "running" before it is taken for the leftover of a crash [40m].
	StaleRunAfter time.Duration
	// LeaseTTL, LeaseRenew and StallTimeout set a run's liveness [DefaultLeaseTTL,
	// DefaultLeaseRenew, DefaultStallTimeout]; see lease.go.
	LeaseTTL, LeaseRenew, StallTimeout time.Duration
	// Tracer makes a span per run and per sale [none].
	Tracer trace.Tracer
	// Metrics, when set, counts runs and the records they touched.
	Metrics *metrics.Metrics
	// BindOptions and HandyOptions adjust the clients (tests shorten retries).
	BindOptions  func(*bind.Options)
	HandyOptions func(*handy.Options)
}

// Engine runs activations and syncs.
type Engine struct {
	d        Deps
	instance string // this process, in the leases it holds
	stopping chan struct{}
	stopOnce sync.Once
}

// New returns an Engine.
func New(d Deps) *Engine {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.StaleRunAfter == 0 {
		d.StaleRunAfter = 40 * time.Minute
	}
	if d.Budgets == nil {
		d.Budgets = &handy.Budgets{}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Tracer == nil {
		d.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if d.LeaseTTL == 0 {
		d.LeaseTTL = DefaultLeaseTTL
	}
	if d.LeaseRenew == 0 {
		d.LeaseRenew = DefaultLeaseRenew
	}
	if d.StallTimeout == 0 {
		d.StallTimeout = DefaultStallTimeout
	}
	return &Engine{d: d, instance: newInstance(), stopping: make(chan struct{})}
}

// clients opens the connection's tokens and builds its two API clients.
func (e *Engine) clients(c *store.Connection) (*bind.Client, *handy.Client, error) {
	handyTok, err := e.d.Keys.Open(c.HandyToken, connection.TokenAAD(c.ID, connection.FieldHandyToken))
	if err != nil {
		return nil, nil, fmt.Errorf("opening the Handy token: %w", err)
	}
	bindTok, err := e.d.Keys.Open(c.BindToken, connection.TokenAAD(c.ID, connection.FieldBindToken))
	if err != nil {
		return nil, nil, fmt.Errorf("opening the Bind token: %w", err)
	}
	var missing []string
	if handyTok == "" {
		missing = append(missing, "handy.token")
	}
	if bindTok == "" {
		missing = append(missing, "bind.token")
	}
	if len(missing) > 0 {
		return nil, nil, errs.FailedPrecondition("connection %s has no %s; set it with UpdateConnection", c.ID, strings.Join(missing, " and no "))
	}
	bo := bind.Options{BaseURL: c.BindBaseURL, Token: bindTok}
	if e.d.BindOptions != nil {
		e.d.BindOptions(&bo)
	}
	bc, err := bind.New(bo)
	if err != nil {
		return nil, nil, err
	}
	loc, err := time.LoadLocation(c.Settings.TimeZone)
	if err != nil || c.Settings.TimeZone == "" {
		return nil, nil, errs.FailedPrecondition("connection %s has time zone %q, which is not an IANA zone", c.ID, c.Settings.TimeZone)
	}
	ho := handy.Options{BaseURL: c.HandyBaseURL, Token: handyTok, Location: loc, Budget: e.d.Budgets.For(handyTok)}
	if e.d.HandyOptions != nil {
		e.d.HandyOptions(&ho)
	}
	hc, err := handy.New(ho)
	if err != nil {
		return nil, nil, err
	}
	return bc, hc, nil
}

func (e *Engine) mapping(c *store.Connection) (*mapping.Mapping, error) {
	m, ok := e.d.Mappings.Resolve(c.Tenant, MappingName, c.MappingVersion)
	if !ok {
		return nil, errs.FailedPrecondition("connection %s uses mapping %s %s, which is not in use (missing, broken or failing its tests)", c.ID, MappingName, c.MappingVersion)
	}
	return m, nil
}

func connectionView(c *store.Connection) mapping.Connection {
	return mapping.Connection{
		PriceList: c.Settings.PriceList, PriceListID: c.Resolved.PriceListID,
		Currency: c.Settings.Currency, CurrencyID: c.Resolved.CurrencyID,
		Warehouse: c.Settings.Warehouse, WarehouseID: c.Resolved.WarehouseID, LocationID: c.Resolved.LocationID,
		LedgerAccount: c.Settings.LedgerAccount, TimeZone: c.Settings.TimeZone,
	}
}

func digest(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// recorder collects a run's items and counts, and writes them in batches.
type recorder struct {
	e     *Engine
	run   *store.Run
	items []*store.RunItem
	p     progress
	// leaseUntil is when the run's lease, as last written, runs out (Unix nanoseconds by the
	// engine's clock): the heartbeat moves it on each renewal; writes to Bind check it (fence).
	leaseUntil atomic.Int64
}

func (r *recorder) add(ctx context.Context, entity store.Entity, handyID, bindID string, outcome store.Outcome, reason, payloadDigest string) {
	r.items = append(r.items, r.item(entity, handyID, bindID, outcome, reason, payloadDigest))
	if len(r.items) >= 200 {
		r.flush(ctx)
	}
}

// item counts a record's outcome and returns its run item, for the caller to write with the work
// it records (in one transaction) or to buffer (add).
func (r *recorder) item(entity store.Entity, handyID, bindID string, outcome store.Outcome, reason, payloadDigest string) *store.RunItem {
	it := &store.RunItem{
		ID: newID(), RunID: r.run.ID, Entity: entity, HandyID: handyID, BindID: bindID, Outcome: outcome,
		Reason: reason, PayloadDigest: payloadDigest, MappingVersion: r.run.MappingVersion,
	}
	if m := r.e.d.Metrics; m != nil {
		m.Items.WithLabelValues(string(r.run.Kind), string(entity), string(outcome)).Inc()
	}
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	c := &r.p.counts
	switch outcome {
	case store.OutcomeCreated:
		c.Created++
	case store.OutcomeUpdated:
		c.Updated++
	case store.OutcomeUnchanged:
		c.Unchanged++
	case store.OutcomeDeleted:
		c.Deleted++
	case store.OutcomeSkipped:
		c.Skipped++
	case store.OutcomeFailed:
		c.Failed++
	case store.OutcomeWaiting:
		c.Waiting++
	}
	return it
}

// failed is how many records failed so far.
func (r *recorder) failed() int {
	r.p.mu.Lock()
	defer r.p.mu.Unlock()
	return r.p.counts.Failed
}

// take hands the buffered items to a caller that writes them with its own work.
func (r *recorder) take() []*store.RunItem {
	out := append([]*store.RunItem(nil), r.items...)
	r.items = r.items[:0]
	return out
}

// flush writes the buffered items. Only the run's own goroutine touches them; the heartbeat
// reads the counts, which p guards.
func (r *recorder) flush(ctx context.Context) {
	if len(r.items) == 0 {
		return
	}
	if err := r.e.d.Store.AddRunItems(ctx, r.items...); err != nil {
		r.e.d.Log.ErrorContext(ctx, "recording run items", "run_id", r.run.ID, "error", err)
	}
	r.items = r.items[:0]
}

// startRun records a run as running.
func (e *Engine) startRun(ctx context.Context, c *store.Connection, kind store.SyncKind, trigger store.RunTrigger, m *mapping.Mapping, runID string) (*recorder, error) {
	var rec *recorder
	err := e.claim(ctx, c, kind, func(tx store.Store) error {
		var err error
		rec, err = e.newRun(ctx, tx, c, kind, trigger, m, runID)
		return err
	})
	return rec, err
}

func (e *Engine) newRun(ctx context.Context, tx store.Store, c *store.Connection, kind store.SyncKind, trigger store.RunTrigger, m *mapping.Mapping, runID string) (*recorder, error) {
	now := e.d.Now().UTC()
	if runID != "" {
		started, err := tx.UpdateRun(ctx, runID, func(r *store.Run) error {
			if r.State != store.RunQueued {
				return errAlreadyRan
			}
			r.State, r.StartedAt = store.RunRunning, now
			r.LeaseOwner, r.LeaseExpiresAt, r.Total = e.instance, now.Add(e.d.LeaseTTL), -1
			if m != nil {
				r.MappingVersion, r.MappingChecksum = m.Version, m.Checksum
			}
			return nil
		})
		if err == nil {
			return newRecorder(e, started), nil
		}
		if !errors.Is(err, errAlreadyRan) && !isNotFound(err) {
			return nil, err
		}
	}
	run := &store.Run{
		ID: newID(), ConnectionID: c.ID, Kind: kind, Trigger: trigger, State: store.RunRunning, StartedAt: now, CreatedAt: now,
		LeaseOwner: e.instance, LeaseExpiresAt: now.Add(e.d.LeaseTTL), Total: -1,
	}
	if m != nil {
		run.MappingVersion, run.MappingChecksum = m.Version, m.Checksum
	}
	if err := tx.CreateRun(ctx, run); err != nil {
		return nil, err
	}
	return newRecorder(e, run), nil
}

func newRecorder(e *Engine, run *store.Run) *recorder {
	r := &recorder{e: e, run: run}
	r.p.total = -1
	// To the microsecond, as the database keeps it: never later than the stored lease.
	r.leaseUntil.Store(run.LeaseExpiresAt.Truncate(time.Microsecond).UnixNano())
	return r
}

// finish records the end of a run. A credentials failure also puts the connection in the error
// state, since a person must give a new token.
func (e *Engine) finish(ctx context.Context, r *recorder, runErr error) (*store.Run, error) {
	r.flush(ctx)
	counts, processed, total := r.p.snapshot()
	takenOver := false
	out, err := e.d.Store.UpdateRun(ctx, r.run.ID, func(run *store.Run) error {
		run.Counts, run.WindowStart, run.WindowEnd = counts, r.run.WindowStart, r.run.WindowEnd
		run.Processed, run.Total = processed, total
		if run.State != store.RunRunning || run.LeaseOwner != e.instance {
			// Another process closed it while it stalled (abandoned) and may run the sync now:
			// its state and outcome stand; only what this process did is added.
			takenOver = true
			return nil
		}
		run.FinishedAt = e.d.Now().UTC()
		run.LeaseOwner, run.LeaseExpiresAt = "", time.Time{}
		switch {
		case errors.Is(runErr, ErrInterrupted):
			run.State, run.Error = store.RunInterrupted, runErr.Error()
		case runErr != nil:
			run.State, run.Error = store.RunFailed, runErr.Error()
		case run.Counts.Failed > 0:
			run.State = store.RunPartial
			run.Error = fmt.Sprintf("%d record(s) failed; see the run items", run.Counts.Failed)
		default:
			run.State = store.RunSucceeded
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if takenOver {
		e.d.Log.WarnContext(ctx, "a run ended after another process had taken it over; its state stays", "run_id", out.ID,
			"connection_id", out.ConnectionID, "kind", out.Kind, "state", out.State, "error", runErr)
		return out, nil
	}
	if out.State != store.RunInterrupted {
		ok := out.State == store.RunSucceeded || out.State == store.RunPartial
		if err := e.d.Store.PutSyncOutcome(ctx, out.ConnectionID, out.Kind, ok, out.FinishedAt, out.Error); err != nil {
			e.d.Log.WarnContext(ctx, "recording a sync's outcome", "run_id", out.ID, "error", err)
		}
	}
	if errors.Is(runErr, bind.ErrCredentialsRejected) || errors.Is(runErr, handy.ErrCredentialsRejected) {
		_, err := e.d.Store.UpdateConnection(ctx, r.run.ConnectionID, func(c *store.Connection) error {
			c.State, c.StateReason = store.ConnectionError, runErr.Error()
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("marking connection %s as needing new credentials: %w", r.run.ConnectionID, err)
		}
	}
	if m := e.d.Metrics; m != nil {
		m.Runs.WithLabelValues(string(out.Kind), string(out.State)).Inc()
		m.RunTime.WithLabelValues(string(out.Kind)).Observe(out.FinishedAt.Sub(out.StartedAt).Seconds())
		if runErr != nil {
			m.Failures.WithLabelValues(string(out.Kind)).Inc()
		}
	}
	e.d.Log.InfoContext(ctx, "run finished", "run_id", out.ID, "connection_id", out.ConnectionID, "kind", out.Kind,
		"state", out.State, "created", out.Counts.Created, "updated", out.Counts.Updated, "deleted", out.Counts.Deleted,
		"skipped", out.Counts.Skipped, "failed", out.Counts.Failed)
	return out, nil
}

// Run runs one sync of a connection and records it as a new run.
func (e *Engine) Run(ctx context.Context, connectionID string, kind store.SyncKind, trigger store.RunTrigger) (*store.Run, error) {
	return e.RunQueued(ctx, connectionID, kind, trigger, "")
}

// ErrInactive is returned when a sync is asked of a connection that is not active (paused, or
// waiting for a person after an error); the job is simply not run.
var ErrInactive = errors.New("the connection is not active")

// RunQueued runs one sync and records it in the queued run runID (from the job that asked for
// it), or in a new run when runID is empty or that run already ended (a retry). A run that ended
// on its own errors is recorded and returned without error, except one interrupted by Interrupt
// (ErrInterrupted), stopped for making no progress, or stopped when its lease ran out: those are
// to be run again.
func (e *Engine) RunQueued(ctx context.Context, connectionID string, kind store.SyncKind, trigger store.RunTrigger, runID string) (*store.Run, error) {
	c, err := e.d.Store.GetConnection(ctx, connectionID)
	if err != nil {
		return nil, err
	}
	if c.State != store.ConnectionActive {
		return nil, fmt.Errorf("connection %s is %s: %w", c.ID, c.State, ErrInactive)
	}
	m, err := e.mapping(c)
	if err != nil {
		return nil, err
	}
	bc, hc, err := e.clients(c)
	if err != nil {
		return nil, err
	}
	r, err := e.startRun(ctx, c, kind, trigger, m, runID)
	if err != nil {
		return nil, err
	}
	ctx, span := e.d.Tracer.Start(ctx, "sync "+string(kind), trace.WithAttributes(
		attribute.String("handybind.connection_id", c.ID), attribute.String("handybind.run_id", r.run.ID),
		attribute.String("handybind.sync_kind", string(kind)), attribute.String("handybind.mapping_version", m.Version)))
	defer span.End()
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopHeartbeat := e.heartbeat(runCtx, cancel, r)
	s := &session{e: e, c: c, m: m, bind: bc, handy: hc, rec: r, conn: connectionView(c)}
	// Every attempt of a write, retries included, goes only while the lease holds.
	runCtx = bind.WithWriteGuard(runCtx, s.fence)
	switch kind {
	case store.SyncProducts:
		err = s.products(runCtx)
	case store.SyncSales:
		err = s.sales(runCtx)
	case store.SyncDeletedSales:
		err = s.deletedSales(runCtx)
	default:
		err = fmt.Errorf("unknown sync kind %q", kind)
	}
	stopHeartbeat()
	if cause := context.Cause(runCtx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // the heartbeat stopped the run: say why, not "context canceled"
	}
	// The run's end is written even when the job's own context is done (a stop, a timeout).
	out, ferr := e.finish(context.WithoutCancel(ctx), r, err)
	if out != nil {
		span.SetAttributes(attribute.String("handybind.run_state", string(out.State)), attribute.Int("handybind.processed", out.Processed))
		if out.State == store.RunFailed || out.State == store.RunAbandoned {
			span.SetStatus(codes.Error, out.Error)
		}
	}
	if ferr == nil && (errors.Is(err, ErrInterrupted) || errors.Is(err, errStalled) || errors.Is(err, errLeaseRanOut)) {
		// Recorded; the caller (the job) must know to run it again. (A run whose lease ran out
		// runs again, and waits while another process holds the sync.)
		ferr = err
	}
	return out, ferr
}

var errAlreadyRan = errors.New("run already ran")

// ErrBusy is returned when the same sync of the connection is running: a connection never runs
// the same sync twice at once.
var ErrBusy = errors.New("the same sync of this connection is running")

// claim checks, under the connection's row lock, that no run of the same kind is running, so that
// two workers (or two replicas) can never start the same sync of a connection at once.
func (e *Engine) claim(ctx context.Context, c *store.Connection, kind store.SyncKind, start func(tx store.Store) error) error {
	return e.d.Store.Tx(ctx, func(tx store.Store) error {
		// The row lock serialises claims; nothing is written, so the connection's update time (and
		// the listings that read by it) stays as the caller left it.
		if err := tx.LockConnection(ctx, c.ID); err != nil {
			return err
		}
		running, err := tx.ListRuns(ctx, store.RunFilter{ConnectionID: c.ID, Kind: kind, State: store.RunRunning, Limit: 5})
		if err != nil {
			return err
		}
		for _, r := range running {
			if !e.expired(r) {
				return ErrBusy
			}
			// Its process is gone: close it, and run now rather than wait for a sweep.
			closed, err := tx.UpdateRun(ctx, r.ID, func(run *store.Run) error { e.abandon(run); return nil })
			if err != nil {
				return err
			}
			if err := tx.PutSyncOutcome(ctx, closed.ConnectionID, closed.Kind, false, closed.FinishedAt, AbandonedReason); err != nil {
				return err
			}
			e.d.Log.WarnContext(ctx, "run abandoned", "run_id", r.ID, "connection_id", r.ConnectionID, "kind", r.Kind, "reason", AbandonedReason)
		}
		return start(tx)
	})
}

// session is one run's working state.
type session struct {
	e     *Engine
	c     *store.Connection
	m     *mapping.Mapping
	bind  *bind.Client
	handy *handy.Client
	rec   *recorder
	conn  mapping.Connection

	warehouses    map[string]bind.Warehouse // by name
	productByCode map[string]string         // Bind product id by code
	seen          map[int64]bool            // sales handled in this run (pending ones reappear in the window)
	keep          map[int64]bool            // of those, the ones seen keeps to the end: pending and held sales
	sent          []sentOrder               // orders this run put in Bind, to read their totals back
	handyEnabled  map[string]bool           // Handy's enabled product codes, read once when needed
	links         map[string]*store.Link    // the links of the page of sales in hand, read ahead
	customers     map[string][2]string      // Bind client and address by customer code, once known
	confirmed     []confirmation            // sales sent to Bind since the last flush
	prewritten    map[string]bool           // sales whose pending link was written with their page's
	unsent        []string                  // of those, sales held back: their links go at the flush
}
