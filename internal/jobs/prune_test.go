package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/testdb"
)

// TestStartPrunesIdleBudgets: a running queue removes the Handy budgets nothing took from for an
// hour (a token replaced, a connection deleted) and keeps the others.
func TestStartPrunesIdleBudgets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _, q := newQueue(t, testdb.Postgres(t))
	_, err := db.SQL.ExecContext(ctx, `INSERT INTO handy_budgets (account, tokens, refreshed_at) VALUES
		(decode(repeat('aa', 32), 'hex'), 20, now() - interval '3 hours'),
		(decode(repeat('bb', 32), 'hex'), 20, now() - interval '5 minutes')`)
	require.NoError(t, err)

	require.NoError(t, q.Start(ctx))
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM handy_budgets`).Scan(&n))
		return n == 1
	}, 10*time.Second, 50*time.Millisecond)
	var kept []byte
	require.NoError(t, db.SQL.QueryRowContext(ctx, `SELECT account FROM handy_budgets`).Scan(&kept))
	require.Equal(t, byte(0xbb), kept[0], "the budget used five minutes ago stays")
}
