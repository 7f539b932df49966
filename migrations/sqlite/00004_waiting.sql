-- +goose Up
-- A sale that cannot be sent yet is "waiting", not failed: a run whose only problems are waiting
-- sales succeeds, and says how many wait. SQLite cannot change a CHECK: the table is rebuilt.
CREATE TABLE run_items_new (
    id              text PRIMARY KEY,
    run_id          text        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    entity          text        NOT NULL CHECK (entity IN ('product', 'customer', 'sale')),
    handy_id        text        NOT NULL,
    bind_id         text        NOT NULL DEFAULT '',
    outcome         text        NOT NULL CHECK (outcome IN ('created', 'updated', 'unchanged', 'deleted', 'skipped', 'failed', 'waiting')),
    reason          text        NOT NULL DEFAULT '',
    payload_digest  text        NOT NULL DEFAULT '',
    mapping_version text        NOT NULL DEFAULT '',
    created_at      datetime    NOT NULL
);
INSERT INTO run_items_new (id, run_id, entity, handy_id, bind_id, outcome, reason, payload_digest, mapping_version, created_at)
    SELECT id, run_id, entity, handy_id, bind_id, outcome, reason, payload_digest, mapping_version, created_at FROM run_items;
DROP TABLE run_items;
ALTER TABLE run_items_new RENAME TO run_items;
CREATE INDEX run_items_run_idx ON run_items (run_id, id);
ALTER TABLE runs ADD COLUMN waiting_count integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE runs DROP COLUMN waiting_count;
CREATE TABLE run_items_old (
    id              text PRIMARY KEY,
    run_id          text        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    entity          text        NOT NULL CHECK (entity IN ('product', 'customer', 'sale')),
    handy_id        text        NOT NULL,
    bind_id         text        NOT NULL DEFAULT '',
    outcome         text        NOT NULL CHECK (outcome IN ('created', 'updated', 'unchanged', 'deleted', 'skipped', 'failed')),
    reason          text        NOT NULL DEFAULT '',
    payload_digest  text        NOT NULL DEFAULT '',
    mapping_version text        NOT NULL DEFAULT '',
    created_at      datetime    NOT NULL
);
INSERT INTO run_items_old (id, run_id, entity, handy_id, bind_id, outcome, reason, payload_digest, mapping_version, created_at)
    SELECT id, run_id, entity, handy_id, bind_id, CASE outcome WHEN 'waiting' THEN 'failed' ELSE outcome END, reason, payload_digest, mapping_version, created_at FROM run_items;
DROP TABLE run_items;
ALTER TABLE run_items_old RENAME TO run_items;
CREATE INDEX run_items_run_idx ON run_items (run_id, id);
