-- +goose Up
CREATE TABLE connections (
    id                     uuid PRIMARY KEY,
    display_name           text        NOT NULL,
    state                  text        NOT NULL CHECK (state IN ('draft', 'active', 'paused', 'error')),
    state_reason           text        NOT NULL DEFAULT '',
    handy_base_url         text        NOT NULL DEFAULT '',
    handy_token_key_id     text        NOT NULL DEFAULT '',
    handy_token_ciphertext bytea,
    bind_base_url          text        NOT NULL DEFAULT '',
    bind_user_name         text        NOT NULL DEFAULT '',
    bind_token_key_id      text        NOT NULL DEFAULT '',
    bind_token_ciphertext  bytea,
    price_list             text        NOT NULL DEFAULT '',
    currency               text        NOT NULL DEFAULT '',
    warehouse              text        NOT NULL DEFAULT '',
    ledger_account         text        NOT NULL DEFAULT '',
    time_zone              text        NOT NULL DEFAULT '',
    mapping_version        text        NOT NULL DEFAULT '',
    price_list_id          text        NOT NULL DEFAULT '',
    currency_id            text        NOT NULL DEFAULT '',
    warehouse_id           text        NOT NULL DEFAULT '',
    location_id            text        NOT NULL DEFAULT '',
    account_id             text        NOT NULL DEFAULT '',
    user_id                text        NOT NULL DEFAULT '',
    resolved_at            timestamptz,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);
CREATE INDEX connections_state_idx ON connections (state, id);

CREATE TABLE runs (
    id               uuid PRIMARY KEY,
    connection_id    uuid        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind             text        NOT NULL CHECK (kind IN ('products', 'sales', 'deleted_sales')),
    trigger          text        NOT NULL CHECK (trigger IN ('schedule', 'manual', 'activation')),
    state            text        NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'partial', 'failed')),
    mapping_version  text        NOT NULL DEFAULT '',
    mapping_checksum text        NOT NULL DEFAULT '',
    window_start     timestamptz,
    window_end       timestamptz,
    created_count    integer     NOT NULL DEFAULT 0,
    updated_count    integer     NOT NULL DEFAULT 0,
    unchanged_count  integer     NOT NULL DEFAULT 0,
    deleted_count    integer     NOT NULL DEFAULT 0,
    skipped_count    integer     NOT NULL DEFAULT 0,
    failed_count     integer     NOT NULL DEFAULT 0,
    error            text        NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz
);
CREATE INDEX runs_connection_idx ON runs (connection_id, id DESC);

CREATE TABLE run_items (
    id              uuid PRIMARY KEY,
    run_id          uuid        NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    entity          text        NOT NULL CHECK (entity IN ('product', 'customer', 'sale')),
    handy_id        text        NOT NULL,
    bind_id         text        NOT NULL DEFAULT '',
    outcome         text        NOT NULL CHECK (outcome IN ('created', 'updated', 'unchanged', 'deleted', 'skipped', 'failed')),
    reason          text        NOT NULL DEFAULT '',
    payload_digest  text        NOT NULL DEFAULT '',
    mapping_version text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
CREATE INDEX run_items_run_idx ON run_items (run_id, id);

-- The durable ledger from Handy ids to Bind ids: a pending row is written before a create is sent.
CREATE TABLE links (
    connection_id   uuid        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    entity          text        NOT NULL CHECK (entity IN ('product', 'customer', 'sale')),
    handy_id        text        NOT NULL,
    bind_id         text        NOT NULL DEFAULT '',
    state           text        NOT NULL CHECK (state IN ('pending', 'confirmed', 'deleted')),
    payload_digest  text        NOT NULL DEFAULT '',
    mapping_version text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (connection_id, entity, handy_id)
);
CREATE INDEX links_bind_idx ON links (connection_id, entity, bind_id);

-- +goose Down
DROP TABLE links;
DROP TABLE run_items;
DROP TABLE runs;
DROP TABLE connections;
