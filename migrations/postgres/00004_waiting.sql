-- +goose Up
-- A sale that cannot be sent yet is "waiting", not failed: a run whose only problems are waiting
-- sales succeeds, and says how many wait.
ALTER TABLE run_items DROP CONSTRAINT run_items_outcome_check;
ALTER TABLE run_items ADD CONSTRAINT run_items_outcome_check
    CHECK (outcome IN ('created', 'updated', 'unchanged', 'deleted', 'skipped', 'failed', 'waiting'));
ALTER TABLE runs ADD COLUMN waiting_count integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE runs DROP COLUMN waiting_count;
UPDATE run_items SET outcome = 'failed' WHERE outcome = 'waiting';
ALTER TABLE run_items DROP CONSTRAINT run_items_outcome_check;
ALTER TABLE run_items ADD CONSTRAINT run_items_outcome_check
    CHECK (outcome IN ('created', 'updated', 'unchanged', 'deleted', 'skipped', 'failed'));
