-- Containers, their tasks, each task's state history, and idempotency keys.
-- Times are INTEGER nanoseconds since the Unix epoch (UTC); NULL means "not yet".

CREATE TABLE containers (
    id            TEXT PRIMARY KEY,
    project       TEXT NOT NULL,
    owner         TEXT NOT NULL,
    name          TEXT NOT NULL,
    image         TEXT NOT NULL,
    flavor        TEXT NOT NULL,
    command       TEXT NOT NULL,
    env           TEXT NOT NULL DEFAULT '[]', -- JSON array of {"name","value"}
    schedule_kind TEXT NOT NULL,
    schedule_at   INTEGER,
    state         TEXT NOT NULL,
    favorite      INTEGER NOT NULL DEFAULT 0,
    current_task  TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- Deleting a container removes its row, which frees its name; its tasks stay (no foreign key).
    UNIQUE (project, name)
);

-- Listings are newest first with a (created_at, id) cursor; one index per visibility shape so a
-- page reads about Limit rows whoever asks: site admin, project admin, member.
CREATE INDEX containers_created ON containers (created_at DESC, id DESC);
CREATE INDEX containers_project_created ON containers (project, created_at DESC, id DESC);
CREATE INDEX containers_owner_created ON containers (project, owner, created_at DESC, id DESC);

CREATE TABLE tasks (
    id              TEXT PRIMARY KEY,
    container_id    TEXT NOT NULL, -- plain text: the container may be deleted, its tasks stay
    project         TEXT NOT NULL,
    owner           TEXT NOT NULL,
    flavor          TEXT NOT NULL,
    job_id          TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    submit_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    begin_at        INTEGER,
    submitted_at    INTEGER,
    eligible_at     INTEGER,
    started_at      INTEGER,
    ended_at        INTEGER,
    exit_code       INTEGER,
    exit_signal     INTEGER,
    gpus            INTEGER NOT NULL DEFAULT 0,
    cpus            INTEGER NOT NULL DEFAULT 0,
    elapsed_seconds INTEGER NOT NULL DEFAULT 0,
    gpu_hours       REAL NOT NULL DEFAULT 0,
    cpu_hours       REAL NOT NULL DEFAULT 0,
    cost            REAL NOT NULL DEFAULT 0,
    currency        TEXT NOT NULL DEFAULT '',
    price_per_hour  REAL NOT NULL DEFAULT 0,
    accounted       INTEGER NOT NULL DEFAULT 0,
    log_path        TEXT NOT NULL DEFAULT '',
    log_object      TEXT NOT NULL DEFAULT '',
    script          TEXT NOT NULL DEFAULT '',
    stop_requested  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE INDEX tasks_container ON tasks (container_id, created_at DESC, id DESC);
CREATE INDEX tasks_job ON tasks (job_id) WHERE job_id <> '';
-- The reconciler's working set; the expression is repeated verbatim in UnsettledTasks so that the
-- planner can use this partial index.
CREATE INDEX tasks_unsettled ON tasks (created_at)
    WHERE state IN ('SUBMITTING', 'PENDING', 'RUNNING') OR accounted = 0;

CREATE TABLE task_events (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id TEXT NOT NULL REFERENCES tasks (id),
    at      INTEGER NOT NULL,
    state   TEXT NOT NULL,
    reason  TEXT NOT NULL DEFAULT ''
);

CREATE INDEX task_events_task ON task_events (task_id, seq);

-- One row per (owner, operation, key): written in the same transaction as the resource it made,
-- so concurrent replays of one key make exactly one resource.
CREATE TABLE idempotency (
    owner       TEXT NOT NULL,
    op          TEXT NOT NULL CHECK (op IN ('create', 'start')),
    key         TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (owner, op, key)
);
