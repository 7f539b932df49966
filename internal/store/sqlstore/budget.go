package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// SharedBudget is a token bucket kept in PostgreSQL, so that every replica takes one account's
// requests from it. Each request costs one statement, which refills the bucket for the time
// since its last use (by the database's clock, so replicas' clocks do not matter) and takes a
// token; a bucket left below zero is a queue, and the taker waits its turn.
type SharedBudget struct {
	db      *DB
	account []byte
	rate    float64 // tokens a second
	burst   float64
}

// SharedBudget returns the budget of account (the SHA-256 of its token), perSecond requests a
// second with bursts of burst. Only PostgreSQL keeps one; SQLite serves one process.
func (db *DB) SharedBudget(account [32]byte, perSecond float64, burst int) *SharedBudget {
	return &SharedBudget{db: db, account: account[:], rate: perSecond, burst: float64(burst)}
}

const takeToken = `
INSERT INTO handy_budgets AS b (account, tokens, refreshed_at) VALUES ($1, $3 - 1, now())
ON CONFLICT (account) DO UPDATE SET
    tokens = LEAST($3, b.tokens + EXTRACT(EPOCH FROM now() - b.refreshed_at) * $2) - 1,
    refreshed_at = now()
RETURNING tokens`

// Wait takes a token, waiting for it when the bucket is empty. A wait cut short by ctx gives its
// token back.
func (b *SharedBudget) Wait(ctx context.Context) error {
	var tokens float64
	if err := b.db.SQL.QueryRowContext(ctx, takeToken, b.account, b.rate, b.burst).Scan(&tokens); err != nil {
		return fmt.Errorf("taking from the Handy request budget: %w", err)
	}
	if tokens >= 0 {
		return nil
	}
	t := time.NewTimer(time.Duration(-tokens / b.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		// Best effort: a token not given back is only a request's worth of waiting for others.
		_, _ = b.db.SQL.ExecContext(context.WithoutCancel(ctx), `UPDATE handy_budgets SET tokens = tokens + 1 WHERE account = $1`, b.account)
		return ctx.Err()
	}
}
