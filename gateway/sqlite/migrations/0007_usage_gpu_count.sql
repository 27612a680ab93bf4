-- GPU count: the GPUs allocated by the jobs that started in a period (a job counts on the slice
-- where it started, as for job counts). Kept in the day sums; computed for the days already there.
ALTER TABLE usage_days ADD COLUMN gpus INTEGER NOT NULL DEFAULT 0;
UPDATE usage_days SET gpus = COALESCE((SELECT SUM(s.starts * s.gpus) FROM usage_slices s
    WHERE s.account = usage_days.account AND s.user = usage_days.user AND s.day = usage_days.day), 0);

DROP INDEX usage_days_day;
DROP INDEX usage_days_account;
CREATE INDEX usage_days_day ON usage_days (day, account, user, jobs, gpus, gpu_seconds, cpu_seconds, cost);
CREATE INDEX usage_days_account ON usage_days (account, day, user, jobs, gpus, gpu_seconds, cpu_seconds, cost);
