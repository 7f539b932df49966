package jobs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/jobs"
	"github.com/handybind/handybind/internal/store"
)

// firings lists the next n times a schedule fires after from.
func firings(t *testing.T, kind store.SyncKind, from time.Time, n int) []string {
	t.Helper()
	schedules := jobs.Schedules()
	var out []string
	at := from
	for range n {
		at = schedules[kind].Next(at)
		out = append(out, at.UTC().Format("2006-01-02 15:04"))
	}
	return out
}

// TestP1S1D1Schedules: products sync at 08:00 and 16:00 UTC every day (P1); sales and deleted
// sales every 10 minutes (S1, D1) — whatever the machine's own time zone.
// Mutations that make it fail: a product schedule at 09:00; Next without the conversion to UTC
// (with the local zone set below); a sales schedule every 15 minutes.
func TestP1S1D1Schedules(t *testing.T) {
	mx, err := time.LoadLocation("America/Mexico_City")
	require.NoError(t, err)
	old := time.Local
	time.Local = mx // the schedules must not follow the server's zone
	t.Cleanup(func() { time.Local = old })

	from := time.Date(2026, 3, 1, 7, 59, 30, 0, time.UTC)
	require.Equal(t, []string{"2026-03-01 08:00", "2026-03-01 16:00", "2026-03-02 08:00", "2026-03-02 16:00"},
		firings(t, store.SyncProducts, from, 4))
	// From a time given in another zone too, also where the local date is a day ahead of UTC's.
	require.Equal(t, []string{"2026-03-01 16:00"}, firings(t, store.SyncProducts, time.Date(2026, 3, 1, 3, 0, 0, 0, mx), 1))
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	require.Equal(t, []string{"2026-03-01 16:00"}, firings(t, store.SyncProducts, time.Date(2026, 3, 2, 0, 30, 0, 0, tokyo), 1))

	for _, kind := range []store.SyncKind{store.SyncSales, store.SyncDeletedSales} {
		require.Equal(t, []string{"2026-03-01 08:00", "2026-03-01 08:10", "2026-03-01 08:20"}, firings(t, kind, from, 3), kind)
		require.Equal(t, []string{"2026-03-01 10:10"}, firings(t, kind, time.Date(2026, 3, 1, 10, 3, 0, 0, time.UTC), 1), kind)
	}
}
