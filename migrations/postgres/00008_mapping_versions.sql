-- +goose Up
-- Mapping versions published through the API. A version is immutable once stored; tenant '' is a
-- global version (published with a platform key), any other tenant sees only its own and the
-- global ones. Rows are never removed: a deleted version keeps its number, so a number in the run
-- history names one source for ever. updated_at moves with every change, so each replica can see
-- what changed without reading every source again.
CREATE TABLE mapping_versions (
    id            text        PRIMARY KEY,
    name          text        NOT NULL,
    number        integer     NOT NULL CHECK (number > 0),
    tenant        text        NOT NULL DEFAULT '',
    source        text        NOT NULL,
    checksum      text        NOT NULL,
    description   text        NOT NULL DEFAULT '',
    author_key_id text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    deprecated_at timestamptz,
    deleted_at    timestamptz,
    UNIQUE (name, tenant, number)
);

-- +goose Down
DROP TABLE mapping_versions;
