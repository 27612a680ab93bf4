-- Task logs are shipped to COS while tasks run and sealed when they end: the reconciler follows a
-- task until its log is sealed too, and the shipper's progress survives restarts.
ALTER TABLE tasks ADD COLUMN log_sealed INTEGER NOT NULL DEFAULT 0;

DROP INDEX tasks_unsettled;
CREATE INDEX tasks_unsettled ON tasks (created_at)
    WHERE state IN ('SUBMITTING', 'PENDING', 'RUNNING') OR accounted = 0 OR log_sealed = 0;

CREATE TABLE log_checkpoints (
    task_id    TEXT PRIMARY KEY,
    data       TEXT NOT NULL,     -- the shipper's checkpoint, as JSON
    updated_at INTEGER NOT NULL
);
