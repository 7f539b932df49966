-- +goose Up
-- Handy's per-account request budgets, shared by the replicas of a PostgreSQL deployment. SQLite
-- serves one process, whose budgets stay in memory; the table keeps both schemas in step.
CREATE TABLE handy_budgets (
    account      blob     PRIMARY KEY,
    tokens       real     NOT NULL,
    refreshed_at datetime NOT NULL
);

-- +goose Down
DROP TABLE handy_budgets;
