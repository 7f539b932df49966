-- +goose Up
-- Handy allows each account a number of requests a minute, whichever process sends them: the
-- replicas take from one token bucket per account, kept here. account is the SHA-256 of the
-- account's token (never the token itself); tokens may fall below zero, as a queue of requests
-- that have each been given their turn.
CREATE TABLE handy_budgets (
    account      bytea            PRIMARY KEY,
    tokens       double precision NOT NULL,
    refreshed_at timestamptz      NOT NULL
);

-- +goose Down
DROP TABLE handy_budgets;
