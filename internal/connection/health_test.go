package connection_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/store"
)

// TestHealthOf: ok while the last sales sync succeeded within two intervals, late after that
// (since the last success, or the activation when there was none), failing when the last one
// failed; an inactive connection has no health.
func TestHealthOf(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	activated := now.Add(-time.Hour)
	active := &store.Connection{State: store.ConnectionActive, Resolved: store.ResolvedIDs{ResolvedAt: activated}}
	sales := func(ok, bad time.Time) map[store.SyncKind]store.SyncHealth {
		return map[store.SyncKind]store.SyncHealth{store.SyncSales: {LastSuccess: ok, LastFailure: bad, LastError: "Bind answered 503"}}
	}
	for name, tc := range map[string]struct {
		c     *store.Connection
		syncs map[store.SyncKind]store.SyncHealth
		state connection.HealthState
		since time.Time
		says  string
	}{
		"ok":                          {active, sales(now.Add(-5*time.Minute), time.Time{}), connection.HealthOK, now.Add(-5 * time.Minute), ""},
		"ok at exactly two intervals": {active, sales(now.Add(-20*time.Minute), time.Time{}), connection.HealthOK, now.Add(-20 * time.Minute), ""},
		"late":                        {active, sales(now.Add(-21*time.Minute), time.Time{}), connection.HealthLate, now.Add(-21 * time.Minute), "no successful sales sync for 21m0s"},
		"late since the activation":   {active, nil, connection.HealthLate, activated, "for 1h0m0s"},
		"failing":                     {active, sales(now.Add(-15*time.Minute), now.Add(-time.Minute)), connection.HealthFailing, now.Add(-15 * time.Minute), "the last sales sync failed: Bind answered 503"},
		"recovered":                   {active, sales(now.Add(-time.Minute), now.Add(-15*time.Minute)), connection.HealthOK, now.Add(-time.Minute), ""},
		"paused":                      {&store.Connection{State: store.ConnectionPaused}, nil, "", time.Time{}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			h := connection.HealthOf(tc.c, tc.syncs, now)
			require.Equal(t, tc.state, h.State)
			require.Equal(t, tc.since, h.Since)
			require.Contains(t, h.Reason, tc.says)
		})
	}
}
