package sqlstore

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"
)

// SharedBudget is a token bucket kept in PostgreSQL, so that every replica takes one account's
// requests from it. Each request costs one statement, which refills the bucket for the time
// since its last use (by the database's clock, so replicas' clocks do not matter) and takes a
// token; a bucket left below zero is a queue, and the taker waits its turn.
type SharedBudget struct {
	db      *DB
	account []byte
	perSec  float64 // tokens a second
	burst   float64
	local   *rate.Limiter // when the database cannot be asked
}

// SharedBudget returns the budget of account (a keyed hash of its token), perSecond requests a
// second with bursts of burst. Only PostgreSQL keeps one; SQLite serves one process.
func (db *DB) SharedBudget(account [32]byte, perSecond float64, burst int) *SharedBudget {
	return &SharedBudget{db: db, account: account[:], perSec: perSecond, burst: float64(burst), local: rate.NewLimiter(rate.Limit(perSecond), burst)}
}

// clock_timestamp, not now(): a statement that waited for the row's lock must not refill from
// the time it started, which may be before the last refill.
const takeToken = `
INSERT INTO handy_budgets AS b (account, tokens, refreshed_at) VALUES ($1, $3 - 1, clock_timestamp())
ON CONFLICT (account) DO UPDATE SET
    tokens = LEAST($3, b.tokens + GREATEST(0, EXTRACT(EPOCH FROM clock_timestamp() - b.refreshed_at)) * $2) - 1,
    refreshed_at = GREATEST(b.refreshed_at, clock_timestamp())
RETURNING tokens`

// Wait takes a token, waiting for it when the bucket is empty. A wait cut short by ctx gives its
// token back. When the database cannot be asked (a dropped connection, a failover), the request
// waits on this process's own bucket instead of failing the sync: Handy answers an account over
// its budget with 429, which the client waits out.
func (b *SharedBudget) Wait(ctx context.Context) error {
	var tokens float64
	if err := b.db.SQL.QueryRowContext(ctx, takeToken, b.account, b.perSec, b.burst).Scan(&tokens); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return b.local.Wait(ctx)
	}
	if tokens >= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(-tokens / b.perSec * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		// Best effort, and briefly (it may run as the process stops): a token not given back is
		// only a request's worth of waiting for others.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_, _ = b.db.SQL.ExecContext(rctx, `UPDATE handy_budgets SET tokens = tokens + 1 WHERE account = $1`, b.account)
		return ctx.Err()
	}
}

// PruneBudgets deletes the budgets nothing took from for longer than idle, and says how many: a
// token replaced, or a connection deleted, leaves its account's row behind. Nothing is lost: a
// bucket idle for more than a few seconds is full, as a new one starts.
func (db *DB) PruneBudgets(ctx context.Context, idle time.Duration) (int64, error) {
	if db.Dialect != Postgres {
		return 0, nil
	}
	res, err := db.SQL.ExecContext(ctx, `DELETE FROM handy_budgets WHERE refreshed_at < clock_timestamp() - make_interval(secs => $1)`, idle.Seconds())
	if err != nil {
		return 0, fmt.Errorf("pruning idle Handy budgets: %w", err)
	}
	return res.RowsAffected()
}
