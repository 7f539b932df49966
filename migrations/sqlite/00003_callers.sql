-- +goose Up
-- Every connection belongs to one tenant (one Handy company). Connections made before tenants
-- existed are given the tenant "default"; a platform key reaches them.
ALTER TABLE connections ADD COLUMN tenant text NOT NULL DEFAULT 'default';
CREATE INDEX connections_tenant_idx ON connections (tenant, id);

-- API keys: only a SHA-256 of the secret part is kept; the id is the key's public prefix.
CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    name        text        NOT NULL DEFAULT '',
    role        text        NOT NULL CHECK (role IN ('platform', 'partner', 'integrator')),
    tenant      text        NOT NULL DEFAULT '',
    secret_hash blob        NOT NULL,
    cert_cn     text        NOT NULL DEFAULT '',
    created_at  datetime    NOT NULL,
    expires_at  datetime   ,
    revoked_at  datetime   ,
    CHECK ((role = 'platform') = (tenant = ''))
);
-- A client certificate's common name maps to at most one live key.
CREATE UNIQUE INDEX api_keys_cert_cn_idx ON api_keys (cert_cn) WHERE cert_cn <> '' AND revoked_at IS NULL;

-- Who changed what, when, and how it ended.
CREATE TABLE audit_events (
    id         text PRIMARY KEY,
    time       datetime    NOT NULL,
    key_id     text        NOT NULL DEFAULT '',
    role       text        NOT NULL DEFAULT '',
    tenant     text        NOT NULL DEFAULT '',
    method     text        NOT NULL,
    resource   text        NOT NULL DEFAULT '',
    outcome    text        NOT NULL
);
CREATE INDEX audit_events_tenant_idx ON audit_events (tenant, id DESC);

-- +goose Down
DROP TABLE audit_events;
DROP TABLE api_keys;
DROP INDEX connections_tenant_idx;
ALTER TABLE connections DROP COLUMN tenant;
