-- +goose Up
CREATE TABLE connections (
    id                     text PRIMARY KEY,
    display_name           text        NOT NULL,
    state                  text        NOT NULL CHECK (state IN ('draft', 'active', 'paused', 'error')),
    state_reason           text        NOT NULL DEFAULT '',
    handy_base_url         text        NOT NULL DEFAULT '',
    handy_token_key_id     text        NOT NULL DEFAULT '',
    handy_token_ciphertext blob ,
    bind_base_url          text        NOT NULL DEFAULT '',
    bind_user_name         text        NOT NULL DEFAULT '',
    bind_token_key_id      text        NOT NULL DEFAULT '',
    bind_token_ciphertext  blob ,
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
    resolved_at            datetime   ,
    created_at             datetime    NOT NULL,
    updated_at             datetime    NOT NULL
);
CREATE INDEX connections_state_idx ON connections (state, id);

CREATE TABLE runs (
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
    error            text        NOT NULL DEFAULT '',
    created_at       datetime    NOT NULL,
    started_at       datetime   ,
    finished_at      datetime   
);
CREATE INDEX runs_connection_idx ON runs (connection_id, id DESC);

CREATE TABLE run_items (
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
CREATE INDEX run_items_run_idx ON run_items (run_id, id);

-- The durable ledger from Handy ids to Bind ids: a pending row is written before a create is sent.
CREATE TABLE links (
    connection_id   text        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    entity          text        NOT NULL CHECK (entity IN ('product', 'customer', 'sale')),
    handy_id        text        NOT NULL,
    bind_id         text        NOT NULL DEFAULT '',
    state           text        NOT NULL CHECK (state IN ('pending', 'confirmed', 'deleted')),
    payload_digest  text        NOT NULL DEFAULT '',
    mapping_version text        NOT NULL DEFAULT '',
    created_at      datetime    NOT NULL,
    updated_at      datetime    NOT NULL,
    PRIMARY KEY (connection_id, entity, handy_id)
);
CREATE INDEX links_bind_idx ON links (connection_id, entity, bind_id);

-- +goose Down
DROP TABLE links;
DROP TABLE run_items;
DROP TABLE runs;
DROP TABLE connections;
