package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// IngestResult says what one ingestion step did.
type IngestResult struct {
	From, To  time.Time // the window read
	Records   int       // records sacct returned
	Changed   int       // ledger rows new or different
	CaughtUp  bool      // the window reached now
	Watermark time.Time // the new watermark (To)
}

// IngestStep reads one bounded window of accounting records for every project's Slurm account and
// upserts them into the ledger: from Overlap before the watermark (Backfill before now the first
// time) to at most Window later, capped at now. The watermark then moves to the window's end, so
// repeated steps catch up after downtime one window at a time. Running it again over the same
// window changes nothing. Errors from Slurm (CodeUnavailable) leave the watermark where it was.
func (u *Usage) IngestStep(ctx context.Context) (IngestResult, error) {
	now := u.cfg.Now().UTC().Truncate(time.Second)
	wm, err := u.store.UsageWatermark(ctx, u.cfg.Cluster)
	if ErrorCode(err) == CodeNotFound {
		wm, err = now.Add(-u.cfg.Backfill), nil
	}
	if err != nil {
		return IngestResult{}, err
	}
	from := wm.Add(-u.cfg.Overlap)
	to := wm.Add(u.cfg.Window)
	if !to.Before(now) {
		to = now
	}
	res := IngestResult{From: from, To: to, Watermark: wm, CaughtUp: !to.Before(now)}
	if !from.Before(to) {
		return res, nil
	}
	n, changed, err := u.IngestRange(ctx, from, to)
	res.Records, res.Changed = n, changed
	if err != nil {
		return res, err
	}
	if err := u.store.SetUsageWatermark(ctx, u.cfg.Cluster, to); err != nil {
		return res, err
	}
	res.Watermark = to
	return res, nil
}

// IngestRange reads the records of every project's account active in [from, to) and upserts
// them, without touching the watermark. It returns how many records were read and how many
// ledger rows changed.
func (u *Usage) IngestRange(ctx context.Context, from, to time.Time) (records, changed int, err error) {
	projects, err := u.store.Projects(ctx)
	if err != nil {
		return 0, 0, err
	}
	if len(projects) == 0 {
		return 0, 0, nil
	}
	accounts := make([]string, len(projects))
	for i, p := range projects {
		accounts[i] = p.Name
	}
	jobs, err := u.source.UsageRecords(ctx, from, to, accounts)
	if err != nil {
		return 0, 0, fmt.Errorf("read accounting %s..%s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	recs, err := u.Records(ctx, jobs)
	if err != nil {
		return len(jobs), 0, err
	}
	changed, err = u.store.UpsertUsage(ctx, recs)
	return len(jobs), changed, err
}

// Records turns accounting records into ledger records, recognising the gateway's own jobs: a job
// whose comment is the id of a task of the same user and project, with the same job id when the
// task knows it (users can write any comment on their own jobs, so the comment alone proves
// nothing).
func (u *Usage) Records(ctx context.Context, jobs []JobStatus) ([]UsageRecord, error) {
	out := make([]UsageRecord, 0, len(jobs))
	for _, js := range jobs {
		task, ok, err := u.taskOf(ctx, js)
		if err != nil {
			return nil, err
		}
		if !ok {
			task = nil
		}
		out = append(out, NewUsageRecord(u.cfg.Cluster, js, task, u.cfg.Prices, u.cfg.Location))
	}
	return out, nil
}

// taskOf returns the gateway task js belongs to; ok is false for a job from outside the gateway.
func (u *Usage) taskOf(ctx context.Context, js JobStatus) (t *Task, ok bool, err error) {
	if js.Comment == "" || len(js.Comment) > 64 {
		return nil, false, nil
	}
	t, err = u.store.Task(ctx, js.Comment)
	if ErrorCode(err) == CodeNotFound {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("task of job %s: %w", js.JobID, err)
	}
	if t.Owner != js.User || t.Project != js.Account || (t.JobID != "" && t.JobID != js.JobID) {
		return nil, false, nil
	}
	return t, true, nil
}

// RunIngest runs ingestion every Interval until ctx ends: each tick takes up to StepsPerTick
// steps, stopping once caught up. Failures are logged and retried on the next tick.
func (u *Usage) RunIngest(ctx context.Context) {
	t := time.NewTicker(u.cfg.Interval)
	defer t.Stop()
	for {
		u.IngestTick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// IngestTick takes up to StepsPerTick ingestion steps, stopping early once caught up or on an
// error (logged), and returns the steps taken.
func (u *Usage) IngestTick(ctx context.Context) int {
	for i := range u.cfg.StepsPerTick {
		if ctx.Err() != nil {
			return i
		}
		res, err := u.IngestStep(ctx)
		if err != nil {
			if ctx.Err() == nil {
				u.log.Warn("usage ingestion failed; retrying next tick", slog.Any("error", err))
			}
			return i
		}
		if res.Changed > 0 {
			u.log.Debug("usage ingested", slog.Time("from", res.From), slog.Time("to", res.To),
				slog.Int("records", res.Records), slog.Int("changed", res.Changed))
		}
		if res.CaughtUp {
			return i + 1
		}
	}
	return u.cfg.StepsPerTick
}
