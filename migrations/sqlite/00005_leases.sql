-- +goose Up
-- A running sync holds a lease it renews; a run whose process died is closed as "abandoned", and
-- one stopped on purpose (SIGTERM) as "interrupted". A run shows its progress while it runs.
-- SQLite cannot change a CHECK, and dropping runs would cascade into run_items: both tables are
-- built anew, and renaming the new runs makes the new run_items refer to it.
CREATE TABLE runs_new (
    id               text PRIMARY KEY,
    connection_id    text        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind             text        NOT NULL CHECK (kind IN ('products', 'sales', 'deleted_sales')),
    trigger          text        NOT NULL CHECK (trigger IN ('schedule', 'manual', 'activation')),
    state            text        NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'abandoned', 'interrupted')),
    mapping_version  text        NOT NULL DEFAULT '',
    mapping_checksum text        NOT NULL DEFAULT '',
    window_start     datetime   ,
    window_end       datetime   ,
    created_count    integer     NOT NULL DEFAULT 0,
    updated_count    integer     NOT NULL DEFAULT 0,
    unchanged_count  integer     NOT NULL DEFAULT 0,
    deleted_count    integer     NOT NULL DEFAULT 0,
    skipped_count    integer     NOT NULL DEFAULT 0,
    failed_count     integer     NOT NULL DEFAULT 0,
    waiting_count    integer     NOT NULL DEFAULT 0,
    error            text        NOT NULL DEFAULT '',
    created_at       datetime    NOT NULL,
    started_at       datetime   ,
    finished_at      datetime   ,
    lease_owner      text        NOT NULL DEFAULT '',
    lease_expires_at datetime   ,
    processed        integer     NOT NULL DEFAULT 0,
    total            integer    
);
INSERT INTO runs_new (id, connection_id, kind, trigger, state, mapping_version, mapping_checksum, window_start, window_end, created_count, updated_count, unchanged_count, deleted_count, skipped_count, failed_count, waiting_count, error, created_at, started_at, finished_at) SELECT id, connection_id, kind, trigger, state, mapping_version, mapping_checksum, window_start, window_end, created_count, updated_count, unchanged_count, deleted_count, skipped_count, failed_count, waiting_count, error, created_at, started_at, finished_at FROM runs;
CREATE TABLE run_items_new (
    id              text PRIMARY KEY,
    run_id          text        NOT NULL REFERENCES runs_new (id) ON DELETE CASCADE,
    entity          text        NOT NULL CHECK (entity IN ('product', 'customer', 'sale')),
    handy_id        text        NOT NULL,
    bind_id         text        NOT NULL DEFAULT '',
    outcome         text        NOT NULL CHECK (outcome IN ('created', 'updated', 'unchanged', 'deleted', 'skipped', 'failed', 'waiting')),
    reason          text        NOT NULL DEFAULT '',
    payload_digest  text        NOT NULL DEFAULT '',
    mapping_version text        NOT NULL DEFAULT '',
    created_at      datetime    NOT NULL
);
INSERT INTO run_items_new (id, run_id, entity, handy_id, bind_id, outcome, reason, payload_digest, mapping_version, created_at) SELECT id, run_id, entity, handy_id, bind_id, outcome, reason, payload_digest, mapping_version, created_at FROM run_items;
DROP TABLE run_items;
DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;
ALTER TABLE run_items_new RENAME TO run_items;
CREATE INDEX runs_connection_idx ON runs (connection_id, id DESC);
CREATE INDEX runs_running_idx ON runs (lease_expires_at) WHERE state = 'running';
CREATE INDEX run_items_run_idx ON run_items (run_id, id);

-- +goose Down
CREATE TABLE runs_old (
    id               text PRIMARY KEY,
    connection_id    text        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind             text        NOT NULL CHECK (kind IN ('products', 'sales', 'deleted_sales')),
    trigger          text        NOT NULL CHECK (trigger IN ('schedule', 'manual', 'activation')),
    state            text        NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'partial', 'failed')),
    mapping_version  text        NOT NULL DEFAULT '',
    mapping_checksum text        NOT NULL DEFAULT '',
    window_start     datetime   ,
    window_end       datetime   ,
    created_count    integer     NOT NULL DEFAULT 0,
    updated_count    integer     NOT NULL DEFAULT 0,
    unchanged_count  integer     NOT NULL DEFAULT 0,
    deleted_count    integer     NOT NULL DEFAULT 0,
    skipped_count    integer     NOT NULL DEFAULT 0,
    failed_count     integer     NOT NULL DEFAULT 0,
    waiting_count    integer     NOT NULL DEFAULT 0,
    error            text        NOT NULL DEFAULT '',
    created_at       datetime    NOT NULL,
    started_at       datetime   ,
    finished_at      datetime   
);
INSERT INTO runs_old (id, connection_id, kind, trigger, state, mapping_version, mapping_checksum, window_start, window_end, created_count, updated_count, unchanged_count, deleted_count, skipped_count, failed_count, waiting_count, error, created_at, started_at, finished_at) SELECT id, connection_id, kind, trigger, CASE WHEN state IN ('abandoned', 'interrupted') THEN 'failed' ELSE state END, mapping_version, mapping_checksum, window_start, window_end, created_count, updated_count, unchanged_count, deleted_count, skipped_count, failed_count, waiting_count, error, created_at, started_at, finished_at FROM runs;
CREATE TABLE run_items_old (
    id              text PRIMARY KEY,
    run_id          text        NOT NULL REFERENCES runs_old (id) ON DELETE CASCADE,
    entity          text        NOT NULL CHECK (entity IN ('product', 'customer', 'sale')),
    handy_id        text        NOT NULL,
    bind_id         text        NOT NULL DEFAULT '',
    outcome         text        NOT NULL CHECK (outcome IN ('created', 'updated', 'unchanged', 'deleted', 'skipped', 'failed', 'waiting')),
    reason          text        NOT NULL DEFAULT '',
    payload_digest  text        NOT NULL DEFAULT '',
    mapping_version text        NOT NULL DEFAULT '',
    created_at      datetime    NOT NULL
);
INSERT INTO run_items_old (id, run_id, entity, handy_id, bind_id, outcome, reason, payload_digest, mapping_version, created_at) SELECT id, run_id, entity, handy_id, bind_id, outcome, reason, payload_digest, mapping_version, created_at FROM run_items;
DROP TABLE run_items;
DROP TABLE runs;
ALTER TABLE runs_old RENAME TO runs;
ALTER TABLE run_items_old RENAME TO run_items;
CREATE INDEX runs_connection_idx ON runs (connection_id, id DESC);
CREATE INDEX run_items_run_idx ON run_items (run_id, id);
