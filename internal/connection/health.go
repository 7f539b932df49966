package connection

import (
	"context"
	"fmt"
	"time"

	"github.com/handybind/handybind/internal/store"
)

// SalesInterval is how often the sales sync runs (S1); a connection is late when its last
// successful sales sync is older than two intervals.
const SalesInterval = 10 * time.Minute

// HealthState says whether an active connection's sales reach Bind on time.
type HealthState string

// The health states; an inactive connection has none.
const (
	HealthOK      HealthState = "ok"
	HealthLate    HealthState = "late"
	HealthFailing HealthState = "failing"
)

// Health is an active connection's health: its state, since when (the last successful sales sync,
// or the activation when there was none), why in words, and each kind's last outcomes.
type Health struct {
	State  HealthState
	Since  time.Time
	Reason string
	Syncs  map[store.SyncKind]store.SyncHealth
}

// HealthOf works out a connection's health at now: failing when its last sales sync failed,
// late when it last succeeded more than two intervals ago, ok otherwise.
func HealthOf(c *store.Connection, syncs map[store.SyncKind]store.SyncHealth, now time.Time) Health {
	if c.State != store.ConnectionActive {
		return Health{Syncs: syncs}
	}
	sales := syncs[store.SyncSales]
	since := sales.LastSuccess
	if since.IsZero() {
		since = c.Resolved.ResolvedAt
	}
	h := Health{State: HealthOK, Since: since, Syncs: syncs}
	switch {
	case sales.LastFailure.After(sales.LastSuccess):
		h.State = HealthFailing
		h.Reason = "the last sales sync failed: " + sales.LastError
	case now.Sub(since) > 2*SalesInterval:
		h.State = HealthLate
		h.Reason = fmt.Sprintf("no successful sales sync for %s (it runs every %s)", now.Sub(since).Round(time.Minute), SalesInterval)
	}
	return h
}

// Health returns the health of each connection, by id, from one read.
func (s *Service) Health(ctx context.Context, cs []*store.Connection) (map[string]Health, error) {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	syncs, err := s.store.ListSyncHealth(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make(map[string]Health, len(cs))
	for _, c := range cs {
		out[c.ID] = HealthOf(c, syncs[c.ID], now)
	}
	return out, nil
}

// WaitingStats counts the sales waiting on every connection, and how long the oldest has waited.
func (s *Service) WaitingStats(ctx context.Context) (int, time.Duration, error) {
	n, oldest, err := s.store.WaitingStats(ctx)
	if err != nil || oldest.IsZero() {
		return n, 0, err
	}
	return n, time.Since(oldest), nil
}

// HealthCounts counts the active connections by health, and says how long ago the least recent
// of their last successful sales syncs was (0 when there is no active connection): what an
// operator alerts on.
func (s *Service) HealthCounts(ctx context.Context) (map[HealthState]int, time.Duration, error) {
	syncs, err := s.store.ListSyncHealth(ctx, nil)
	if err != nil {
		return nil, 0, err
	}
	counts := map[HealthState]int{HealthOK: 0, HealthLate: 0, HealthFailing: 0}
	var oldest time.Duration
	now := time.Now()
	after := ""
	for {
		cs, err := s.store.ListConnections(ctx, store.ConnectionFilter{State: store.ConnectionActive, AfterID: after, Limit: 500})
		if err != nil {
			return nil, 0, err
		}
		for _, c := range cs {
			h := HealthOf(c, syncs[c.ID], now)
			counts[h.State]++
			oldest = max(oldest, now.Sub(h.Since))
		}
		if len(cs) < 500 {
			return counts, oldest, nil
		}
		after = cs[len(cs)-1].ID
	}
}
