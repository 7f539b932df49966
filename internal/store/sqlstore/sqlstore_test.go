package sqlstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/store/storetest"
	"github.com/handybind/handybind/internal/testdb"
)

func open(t *testing.T, url string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), url, nil)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

func migrated(t *testing.T, url string) store.Store {
	t.Helper()
	db := open(t, url)
	st, err := db.Migrate(context.Background(), nil)
	require.NoError(t, err)
	require.False(t, st.Behind(), st.String())
	return sqlstore.New(db)
}

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return migrated(t, testdb.SQLite(t)) })
}

func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return migrated(t, testdb.Postgres(t)) })
}

func TestMigrationStatus(t *testing.T) {
	t.Parallel()
	for name, url := range testdb.URLs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, url)
			st, err := db.Status(ctx)
			require.NoError(t, err)
			require.True(t, st.Behind(), "a new database is behind")
			require.EqualValues(t, 0, st.Current)
			require.NotEmpty(t, st.RiverPending)

			st, err = db.Migrate(ctx, nil)
			require.NoError(t, err)
			require.False(t, st.Behind(), st.String())
			require.Equal(t, st.Target, st.Current)

			// Migrating again is a no-op.
			again, err := db.Migrate(ctx, nil)
			require.NoError(t, err)
			require.Equal(t, st, again)
		})
	}
}

func TestParseURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		dialect sqlstore.Dialect
		path    string
		wantErr string
	}{
		{in: "sqlite:data/h.db", dialect: sqlstore.SQLite, path: "data/h.db"},
		{in: "sqlite:///abs/h.db", dialect: sqlstore.SQLite, path: "/abs/h.db"},
		{in: "file:h.db", dialect: sqlstore.SQLite, path: "h.db"},
		{in: "postgres://u:p@h/db", dialect: sqlstore.Postgres},
		{in: "postgresql://h/db", dialect: sqlstore.Postgres},
		{in: "sqlite:", wantErr: "names no file"},
		{in: "sqlite:h.db?cache=shared", wantErr: "remove"},
		{in: "mysql://u:secretpw@h/db", wantErr: "want postgres"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := sqlstore.ParseURL(tc.in)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), "secretpw")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.dialect, got.Dialect)
			require.Equal(t, tc.path, got.Path)
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	require.Equal(t, "postgres://u:REDACTED@h/db", sqlstore.Redact("postgres://u:hunter2@h/db"))
	require.NotContains(t, sqlstore.Redact("postgres://h/db?password=hunter2"), "hunter2")
	require.Equal(t, "sqlite:x.db", sqlstore.Redact("sqlite:x.db"))
}

// TestConcurrentMigrations starts several migrations of one PostgreSQL database at once, as
// replicas started together with --migrate do: they take turns and all succeed.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			db, err := sqlstore.Open(context.Background(), url, nil)
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			_, err = db.Migrate(context.Background(), nil)
			errs <- err
		}()
	}
	for range 3 {
		require.NoError(t, <-errs)
	}
	st, err := open(t, url).Status(context.Background())
	require.NoError(t, err)
	require.False(t, st.Behind())
}

// TestSQLiteReadsDoNotWaitForTheWriter: on SQLite the one write connection is held for a whole
// transaction (a sync's batch of links and items), yet API reads go on, from the read pool, and
// see what was committed.
func TestSQLiteReadsDoNotWaitForTheWriter(t *testing.T) {
	t.Parallel()
	s := migrated(t, testdb.SQLite(t))
	ctx := context.Background()
	c := &store.Connection{ID: "01a21a0f-eea7-7b10-aca4-8d13cd1b39d4", Tenant: "acme", DisplayName: "x", State: store.ConnectionDraft}
	require.NoError(t, s.CreateConnection(ctx, c))

	err := s.Tx(ctx, func(tx store.Store) error {
		c2 := &store.Connection{ID: "01a21a0f-eea7-7b10-aca4-8d13cd1b39d5", Tenant: "acme", DisplayName: "y", State: store.ConnectionDraft}
		require.NoError(t, tx.CreateConnection(ctx, c2))
		done := make(chan []*store.Connection, 1)
		go func() {
			cs, err := s.ListConnections(ctx, store.ConnectionFilter{Tenant: "acme", Limit: 10})
			require.NoError(t, err)
			done <- cs
		}()
		select {
		case cs := <-done:
			require.Len(t, cs, 1, "the uncommitted connection is not seen")
		case <-time.After(2 * time.Second):
			t.Fatal("a read waited for the writer's transaction")
		}
		return nil
	})
	require.NoError(t, err)
	cs, err := s.ListConnections(ctx, store.ConnectionFilter{Tenant: "acme", Limit: 10})
	require.NoError(t, err)
	require.Len(t, cs, 2, "a read after the commit sees it")
}

// Listings keep connections read before and re-read only the changed ones: a change made by
// another replica (another Store on the same database), a deletion, and a change seen through a
// copy the caller altered must all show in the next page.
func TestListingsSeeOtherReplicasChanges(t *testing.T) {
	t.Parallel()
	for name, url := range testdb.URLs(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, url)
			_, err := db.Migrate(ctx, nil)
			require.NoError(t, err)
			a, b := sqlstore.New(db), sqlstore.New(open(t, url))
			ids := []string{"01a21a0f-eea7-7b10-aca4-8d13cd1b39d1", "01a21a0f-eea7-7b10-aca4-8d13cd1b39d2", "01a21a0f-eea7-7b10-aca4-8d13cd1b39d3"}
			for i, id := range ids {
				require.NoError(t, a.CreateConnection(ctx, &store.Connection{ID: id, Tenant: "acme", DisplayName: fmt.Sprintf("n%d", i), State: store.ConnectionDraft}))
			}
			list := func() []string {
				cs, err := a.ListConnections(ctx, store.ConnectionFilter{Tenant: "acme", Limit: 10})
				require.NoError(t, err)
				var names []string
				for _, c := range cs {
					names = append(names, c.DisplayName)
					c.DisplayName = "changed by the caller" // must not reach the next listing
				}
				return names
			}
			require.Equal(t, []string{"n0", "n1", "n2"}, list())
			require.Equal(t, []string{"n0", "n1", "n2"}, list(), "the kept copies are the caller's own")

			_, err = b.UpdateConnection(ctx, ids[1], func(c *store.Connection) error { c.DisplayName = "renamed elsewhere"; return nil })
			require.NoError(t, err)
			require.NoError(t, b.DeleteConnection(ctx, ids[2]))
			require.NoError(t, b.CreateConnection(ctx, &store.Connection{ID: "01a21a0f-eea7-7b10-aca4-8d13cd1b39d4", Tenant: "acme", DisplayName: "n3", State: store.ConnectionDraft}))
			require.Equal(t, []string{"n0", "renamed elsewhere", "n3"}, list())

			// Paging and filters read the same way.
			cs, err := a.ListConnections(ctx, store.ConnectionFilter{Tenant: "acme", AfterID: ids[0], Limit: 1})
			require.NoError(t, err)
			require.Len(t, cs, 1)
			require.Equal(t, "renamed elsewhere", cs[0].DisplayName)
			cs, err = a.ListConnections(ctx, store.ConnectionFilter{Tenant: "other", Limit: 10})
			require.NoError(t, err)
			require.Empty(t, cs)
		})
	}
}

// Two replicas (two pools on one database) take one account's requests from one bucket: 22
// requests at 20 a second with bursts of 2 take at least a second however they are split, where
// a bucket per replica would let them through in half that. Another account has its own bucket,
// and a wait cut short returns at once.
func TestHandyBudgetIsSharedByReplicas(t *testing.T) {
	t.Parallel()
	url := testdb.Postgres(t)
	ctx := context.Background()
	a := open(t, url)
	_, err := a.Migrate(ctx, nil)
	require.NoError(t, err)
	b := open(t, url)
	account, other := sha256.Sum256([]byte("tok-a")), sha256.Sum256([]byte("tok-b"))
	replicas := []*sqlstore.SharedBudget{a.SharedBudget(account, 20, 2), b.SharedBudget(account, 20, 2)}

	start := time.Now()
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 11 {
				require.NoError(t, r.Wait(ctx))
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	require.GreaterOrEqual(t, took, 950*time.Millisecond, "22 requests at 20/s with bursts of 2 went in %s", took)
	require.Less(t, took, 5*time.Second)

	// The other account's bucket is full.
	start = time.Now()
	require.NoError(t, b.SharedBudget(other, 20, 2).Wait(ctx))
	require.Less(t, time.Since(start), 500*time.Millisecond)

	// A wait bounded by its context ends with it.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	slow := a.SharedBudget(sha256.Sum256([]byte("tok-c")), 0.1, 1) // a token every ten seconds
	require.NoError(t, slow.Wait(ctx))
	start = time.Now()
	require.ErrorIs(t, slow.Wait(short), context.DeadlineExceeded)
	require.Less(t, time.Since(start), time.Second)
	// Its token was given back: the bucket is at about zero, not one in debt.
	tokenC := sha256.Sum256([]byte("tok-c"))
	var tokens float64
	require.NoError(t, a.SQL.QueryRowContext(ctx, `SELECT tokens FROM handy_budgets WHERE account = $1`, tokenC[:]).Scan(&tokens))
	require.InDelta(t, 0, tokens, 0.5)

	// Budgets idle for longer than asked are pruned, the others kept.
	tokenD := sha256.Sum256([]byte("tok-d"))
	require.NoError(t, a.SharedBudget(tokenD, 20, 2).Wait(ctx))
	_, err = a.SQL.ExecContext(ctx, `UPDATE handy_budgets SET refreshed_at = refreshed_at - interval '2 hours' WHERE account <> $1`, tokenD[:])
	require.NoError(t, err)
	n, err := a.PruneBudgets(ctx, time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 3, n, "tok-a, tok-b and tok-c")
	var left int
	require.NoError(t, a.SQL.QueryRowContext(ctx, `SELECT count(*) FROM handy_budgets`).Scan(&left))
	require.Equal(t, 1, left)

	// A database that cannot be asked does not fail the request: this process's bucket paces it.
	gone := open(t, url)
	budget := gone.SharedBudget(account, 20, 2)
	gone.Close()
	require.NoError(t, budget.Wait(ctx))
}
