-- The usage ledger: one row per Slurm job read from sacct (all jobs of the projects' accounts,
-- not only the gateway's), keyed by cluster and job id, and its elapsed time precomputed into
-- per-day slices (days of the cluster's time zone, cut when the record is written) summed per day,
-- project and user in usage_days, so that totals and day series read per-day sums. Job times
-- are INTEGER nanoseconds like elsewhere; slice bounds are INTEGER Unix seconds (sacct's
-- resolution) because queries do arithmetic on them.

CREATE TABLE usage_jobs (
    cluster         TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    user            TEXT NOT NULL,
    account         TEXT NOT NULL,   -- the project
    partition       TEXT NOT NULL DEFAULT '',
    name            TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    submit_at       INTEGER,
    start_at        INTEGER,
    end_at          INTEGER,
    elapsed_seconds INTEGER NOT NULL,
    gpus            INTEGER NOT NULL,
    cpus            INTEGER NOT NULL,
    gpu_seconds     INTEGER NOT NULL,
    cpu_seconds     INTEGER NOT NULL,
    cost            REAL NOT NULL,
    currency        TEXT NOT NULL DEFAULT '',
    from_gateway    INTEGER NOT NULL DEFAULT 0,
    task_id         TEXT NOT NULL DEFAULT '',
    digest          TEXT NOT NULL,   -- fingerprint of the row: an identical upsert changes nothing
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (cluster, job_id)
);

CREATE INDEX usage_jobs_account_start ON usage_jobs (account, start_at);

-- One row per job and calendar day it ran in; a job that never ran has one empty slice.
-- starts = 1 on the slice where the job started: job counts sum it.
CREATE TABLE usage_slices (
    cluster      TEXT NOT NULL,
    job_id       TEXT NOT NULL,
    day          TEXT NOT NULL,      -- YYYY-MM-DD in the cluster's time zone
    account      TEXT NOT NULL,
    user         TEXT NOT NULL,
    start_sec    INTEGER NOT NULL,
    end_sec      INTEGER NOT NULL,
    gpus         INTEGER NOT NULL,
    cpus         INTEGER NOT NULL,
    cost_per_sec REAL NOT NULL,
    starts       INTEGER NOT NULL,
    PRIMARY KEY (cluster, job_id, day)
) WITHOUT ROWID;

-- Slices are read only for the days at the edges of a query's range (day IN (...)); covering
-- indexes for the three scopes (site, project, project member) keep those reads off the table.
CREATE INDEX usage_slices_all ON usage_slices (day, account, user, start_sec, end_sec, gpus, cpus, cost_per_sec, starts);
CREATE INDEX usage_slices_account ON usage_slices (account, day, user, start_sec, end_sec, gpus, cpus, cost_per_sec, starts);
CREATE INDEX usage_slices_user ON usage_slices (account, user, day, start_sec, end_sec, gpus, cpus, cost_per_sec, starts);

-- Per-day sums of the slices by project and user, kept in step with usage_slices by every upsert
-- (old slices subtracted, new ones added, in the same transaction): the days wholly inside a
-- query's range are read from here, so totals cost O(days x users), not O(jobs).
CREATE TABLE usage_days (
    account     TEXT NOT NULL,
    user        TEXT NOT NULL,
    day         TEXT NOT NULL,
    jobs        INTEGER NOT NULL,
    gpu_seconds INTEGER NOT NULL,
    cpu_seconds INTEGER NOT NULL,
    cost        REAL NOT NULL,
    PRIMARY KEY (account, user, day)
) WITHOUT ROWID;

CREATE INDEX usage_days_day ON usage_days (day, account, user, jobs, gpu_seconds, cpu_seconds, cost);
CREATE INDEX usage_days_account ON usage_days (account, day, user, jobs, gpu_seconds, cpu_seconds, cost);

-- How far ingestion has read, per cluster.
CREATE TABLE usage_watermarks (
    cluster    TEXT PRIMARY KEY,
    watermark  INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
