-- +goose Up
-- A running sync holds a lease it renews; a run whose process died is closed as "abandoned", and
-- one stopped on purpose (SIGTERM) as "interrupted". A run shows its progress while it runs.
ALTER TABLE runs DROP CONSTRAINT runs_state_check;
ALTER TABLE runs ADD CONSTRAINT runs_state_check
    CHECK (state IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'abandoned', 'interrupted'));
ALTER TABLE runs ADD COLUMN lease_owner text NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN lease_expires_at timestamptz;
ALTER TABLE runs ADD COLUMN processed integer NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN total integer;
CREATE INDEX runs_running_idx ON runs (lease_expires_at) WHERE state = 'running';

-- +goose Down
DROP INDEX runs_running_idx;
ALTER TABLE runs DROP COLUMN total;
ALTER TABLE runs DROP COLUMN processed;
ALTER TABLE runs DROP COLUMN lease_expires_at;
ALTER TABLE runs DROP COLUMN lease_owner;
UPDATE runs SET state = 'failed' WHERE state IN ('abandoned', 'interrupted');
ALTER TABLE runs DROP CONSTRAINT runs_state_check;
ALTER TABLE runs ADD CONSTRAINT runs_state_check
    CHECK (state IN ('queued', 'running', 'succeeded', 'partial', 'failed'));
