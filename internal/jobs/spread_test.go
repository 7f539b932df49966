package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/jobs"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/syncer"
	"github.com/handybind/handybind/internal/testdb"
)

// TestOffsetsSpreadTheFleet: each connection keeps one offset within its kind's spread, and
// 10,000 connections fill the spread evenly, so no second of it takes more than a few.
func TestOffsetsSpreadTheFleet(t *testing.T) {
	t.Parallel()
	perSecond := map[time.Duration]int{}
	for i := range 10000 {
		id := fmt.Sprintf("01a2%04x-0000-7000-8000-%012x", i, i)
		off := jobs.Offset(id, store.SyncSales, jobs.DefaultSpread)
		require.Equal(t, off, jobs.Offset(id, store.SyncSales, jobs.DefaultSpread), "stable")
		require.GreaterOrEqual(t, off, time.Duration(0))
		require.Less(t, off, jobs.DefaultSpread)
		perSecond[off]++
	}
	// 300 seconds for 10,000 connections: 33 a second on average.
	require.Greater(t, len(perSecond), 290, "nearly every second of the spread is used")
	most := 0
	for _, n := range perSecond {
		most = max(most, n)
	}
	require.Less(t, most, 70, "no second takes more than about twice its share")
}

// TestScheduledSyncsStartAtTheirOffsetAndTriggersRunNow: a slot's fan-out schedules each
// connection's sync at the slot plus its offset; a manual trigger meanwhile merges into that
// sync and brings it forward to now instead of waiting for its second.
func TestScheduledSyncsStartAtTheirOffsetAndTriggersRunNow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, st, q := newQueue(t, testdb.SQLite(t))

	// A connection whose offset is at least a minute into the slot.
	var c *store.Connection
	for i := 0; c == nil; i++ {
		id := fmt.Sprintf("01a21a0f-eea7-7b10-aca4-%012x", i)
		if jobs.Offset(id, store.SyncSales, jobs.DefaultSpread) >= time.Minute {
			c = &store.Connection{ID: id, Tenant: "acme", DisplayName: "x", State: store.ConnectionActive}
		}
	}
	require.NoError(t, st.CreateConnection(ctx, c))
	slot := time.Now().UTC().Truncate(time.Minute)
	require.NoError(t, q.Fanout(ctx, store.SyncSales, slot))

	scheduled := func() (time.Time, string) {
		var at time.Time
		var state string
		require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT scheduled_at, state FROM river_job WHERE kind = 'handybind.sync'`).Scan(&at, &state))
		return at.UTC(), state
	}
	at, state := scheduled()
	require.Equal(t, "scheduled", state)
	require.WithinDuration(t, slot.Add(jobs.Offset(c.ID, store.SyncSales, jobs.DefaultSpread)), at, time.Second)

	runs, err := st.ListRuns(ctx, store.RunFilter{ConnectionID: c.ID, Limit: 10})
	require.NoError(t, err)
	require.Len(t, runs, 1)
	run, err := q.Trigger(ctx, c.ID, store.SyncSales, store.TriggerManual)
	require.NoError(t, err)
	require.Equal(t, runs[0].ID, run.ID, "merged into the scheduled sync")
	at, state = scheduled()
	require.Equal(t, "available", state)
	require.False(t, at.After(time.Now().Add(time.Second)), "brought forward to now, not left at %s", at)
}

// TestFanoutAsksOnceForEveryActiveConnection: the fan-out walks every page of active
// connections, asks for one sync of each (one queued run), leaves paused and draft ones alone,
// and a second fan-out of the same slot merges into what the first asked for.
func TestFanoutAsksOnceForEveryActiveConnection(t *testing.T) {
	t.Parallel()
	for name, url := range testdb.URLs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, st, q := newQueue(t, url)

			const active = 450 // more than two pages
			for i := range active + 2 {
				state := store.ConnectionActive
				switch i {
				case 7:
					state = store.ConnectionPaused
				case 300:
					state = store.ConnectionDraft
				}
				require.NoError(t, st.CreateConnection(ctx, &store.Connection{ID: fmt.Sprintf("01a21a0f-eea7-7b10-aca4-%012x", i), Tenant: "acme", DisplayName: "x", State: state}))
			}
			slot := time.Now().UTC().Truncate(time.Minute)
			count := func() (jobs, runs int) {
				require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE kind = 'handybind.sync'`).Scan(&jobs))
				require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM runs`).Scan(&runs))
				return jobs, runs
			}
			require.NoError(t, q.Fanout(ctx, store.SyncSales, slot))
			j, r := count()
			require.Equal(t, active, j, "one sync job per active connection")
			require.Equal(t, active, r, "one queued run per active connection")
			for _, i := range []int{7, 300} {
				runs, err := st.ListRuns(ctx, store.RunFilter{ConnectionID: fmt.Sprintf("01a21a0f-eea7-7b10-aca4-%012x", i), Limit: 1})
				require.NoError(t, err)
				require.Empty(t, runs, "connection %d is not active", i)
			}
			require.NoError(t, q.Fanout(ctx, store.SyncSales, slot))
			j, r = count()
			require.Equal(t, active, j, "the same slot again merges")
			require.Equal(t, active, r)

			// A connection whose merge fails (its queued run is gone) does not fail the page's
			// others: they are asked for one by one, and the slot's fan-out succeeds.
			_, err := db.SQL.ExecContext(ctx, `DELETE FROM runs WHERE id = (SELECT id FROM runs ORDER BY id LIMIT 1)`)
			require.NoError(t, err)
			require.NoError(t, q.Fanout(ctx, store.SyncSales, slot))
			j, r = count()
			require.Equal(t, active, j)
			require.Equal(t, active-1, r)
		})
	}
}

// newQueue is a queue (not started) on a new, migrated database.
func newQueue(t *testing.T, url string) (*sqlstore.DB, *sqlstore.Store, *jobs.Queue) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, url, nil)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	_, err = db.Migrate(ctx, nil)
	require.NoError(t, err)
	st := sqlstore.New(db)
	log := slog.New(slog.DiscardHandler)
	q, err := jobs.New(db, st, syncer.New(syncer.Deps{Store: st, Log: log}), log, jobs.Options{})
	require.NoError(t, err)
	return db, st, q
}
