-- +goose Up
-- When each kind of sync of a connection last succeeded and last failed, so that a connection can
-- say whether it is ok, late or failing without reading its run history.
CREATE TABLE sync_health (
    connection_id   text        NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    kind            text        NOT NULL CHECK (kind IN ('products', 'sales', 'deleted_sales')),
    last_success_at datetime   ,
    last_failure_at datetime   ,
    last_error      text        NOT NULL DEFAULT '',
    PRIMARY KEY (connection_id, kind)
);

-- +goose Down
DROP TABLE sync_health;
