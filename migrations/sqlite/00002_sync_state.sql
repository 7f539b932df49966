-- +goose Up
-- Where each kind of sync has read up to, per connection, as an instant (UTC).
CREATE TABLE sync_cursors (
    connection_id text        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN ('products', 'sales', 'deleted_sales')),
    position      datetime    NOT NULL,
    updated_at    datetime    NOT NULL,
    PRIMARY KEY (connection_id, kind)
);

-- Sales that could not be sent yet (a product missing in Bind, an unknown warehouse, an answer
-- that never came). Later runs fetch them again by id until they go through: nothing is dropped.
CREATE TABLE pending_sales (
    connection_id text        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    handy_id      text        NOT NULL,
    reason        text        NOT NULL DEFAULT '',
    attempts      integer     NOT NULL DEFAULT 0,
    created_at    datetime    NOT NULL,
    updated_at    datetime    NOT NULL,
    PRIMARY KEY (connection_id, handy_id)
);

-- A customer's Bind link also needs the address id orders use.
ALTER TABLE links ADD COLUMN bind_extra text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE links DROP COLUMN bind_extra;
DROP TABLE pending_sales;
DROP TABLE sync_cursors;
