-- +goose Up
-- Console sign-ins: the cookie names one, and signing out deletes it, so a copied cookie stops
-- working at once on every replica.
CREATE TABLE console_sessions (
    id         text        PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry_idx ON console_sessions (expires_at);

-- +goose Down
DROP TABLE console_sessions;
