package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"batchgate/gateway"
)

// upsertBatch is how many records one transaction writes: big enough that ingestion is not
// bound by commits, small enough that the HTTP API never waits long for the write lock.
const upsertBatch = 2000

const usageJobUpsert = `INSERT INTO usage_jobs (cluster, job_id, user, account, partition, name, state,
	submit_at, start_at, end_at, elapsed_seconds, gpus, cpus, gpu_seconds, cpu_seconds, cost, currency,
	from_gateway, task_id, digest, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (cluster, job_id) DO UPDATE SET user = excluded.user, account = excluded.account,
	partition = excluded.partition, name = excluded.name, state = excluded.state,
	submit_at = excluded.submit_at, start_at = excluded.start_at, end_at = excluded.end_at,
	elapsed_seconds = excluded.elapsed_seconds, gpus = excluded.gpus, cpus = excluded.cpus,
	gpu_seconds = excluded.gpu_seconds, cpu_seconds = excluded.cpu_seconds, cost = excluded.cost,
	currency = excluded.currency, from_gateway = excluded.from_gateway, task_id = excluded.task_id,
	digest = excluded.digest, updated_at = excluded.updated_at
WHERE usage_jobs.digest <> excluded.digest`

const usageSliceInsert = `INSERT INTO usage_slices (cluster, job_id, day, account, user, start_sec, end_sec,
	gpus, cpus, cost_per_sec, starts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// UpsertUsage writes recs keyed by (Cluster, JobID) with their day slices (gateway.UsageStore).
// A record whose digest equals the stored one is left alone and not counted in changed; a changed
// one has its slices replaced. Records are written in transactions of upsertBatch.
func (s *DB) UpsertUsage(ctx context.Context, recs []gateway.UsageRecord) (int, error) {
	changed := 0
	for len(recs) > 0 {
		n := min(len(recs), upsertBatch)
		err := s.inTx(ctx, func(tx *sqlx.Tx) error {
			c, err := upsertUsageBatch(ctx, tx, recs[:n], s.now().UTC())
			changed += c
			return err
		})
		if err != nil {
			return changed, err
		}
		recs = recs[n:]
	}
	return changed, nil
}

func upsertUsageBatch(ctx context.Context, tx *sqlx.Tx, recs []gateway.UsageRecord, now time.Time) (int, error) {
	job, err := tx.PrepareContext(ctx, usageJobUpsert)
	if err != nil {
		return 0, fmt.Errorf("upsert usage: %w", err)
	}
	defer job.Close()
	del, err := tx.PrepareContext(ctx, "DELETE FROM usage_slices WHERE cluster = ? AND job_id = ?")
	if err != nil {
		return 0, fmt.Errorf("upsert usage: %w", err)
	}
	defer del.Close()
	slice, err := tx.PrepareContext(ctx, usageSliceInsert)
	if err != nil {
		return 0, fmt.Errorf("upsert usage: %w", err)
	}
	defer slice.Close()
	changed := 0
	for i := range recs {
		r := &recs[i]
		res, err := job.ExecContext(ctx, r.Cluster, r.JobID, r.User, r.Account, r.Partition, r.Name, r.State,
			nt(r.SubmitAt), nt(r.StartAt), nt(r.EndAt), r.ElapsedSec, r.GPUs, r.CPUs, r.GPUSeconds, r.CPUSeconds,
			r.Cost, r.Currency, r.FromGateway, r.TaskID, r.Digest(), nt(now))
		if err != nil {
			return changed, fmt.Errorf("upsert usage of job %s: %w", r.JobID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			continue // unchanged (or the driver cannot tell, which go-sqlite3 always can)
		}
		changed++
		if _, err := del.ExecContext(ctx, r.Cluster, r.JobID); err != nil {
			return changed, fmt.Errorf("replace usage slices of job %s: %w", r.JobID, err)
		}
		for _, sl := range r.Slices {
			if _, err := slice.ExecContext(ctx, r.Cluster, r.JobID, sl.Day, r.Account, r.User, sl.Start.Unix(),
				sl.End.Unix(), r.GPUs, r.CPUs, r.CostPerSecond, sl.Starts); err != nil {
				return changed, fmt.Errorf("write usage slice of job %s: %w", r.JobID, err)
			}
		}
	}
	return changed, nil
}

// UsageWatermark returns where ingestion of cluster stopped (gateway.UsageStore); CodeNotFound
// before the first window was ingested.
func (s *DB) UsageWatermark(ctx context.Context, cluster string) (time.Time, error) {
	var at nanoTime
	err := s.db.GetContext(ctx, &at, "SELECT watermark FROM usage_watermarks WHERE cluster = ?", cluster)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, gateway.NotFound("usage watermark", cluster)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read usage watermark: %w", err)
	}
	return at.time(), nil
}

// SetUsageWatermark records where ingestion of cluster stopped.
func (s *DB) SetUsageWatermark(ctx context.Context, cluster string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO usage_watermarks (cluster, watermark, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (cluster) DO UPDATE SET watermark = excluded.watermark, updated_at = excluded.updated_at`,
		cluster, nt(at), nt(s.now()))
	if err != nil {
		return fmt.Errorf("write usage watermark: %w", err)
	}
	return nil
}

// usageKeyColumn is the column SumUsage groups by, per key.
var usageKeyColumn = map[gateway.UsageKey]string{
	gateway.ByNone: "''", gateway.ByDay: "day", gateway.ByUser: "user", gateway.ByProject: "account",
}

// SumUsage adds up the slices f selects, clipped to [f.From, f.To), grouped by f.By
// (gateway.UsageStore). Each scope is one query on its covering index; rows of several scopes are
// returned side by side (the Service merges equal keys). Jobs counts slices where a job started.
func (s *DB) SumUsage(ctx context.Context, f gateway.UsageFilter) ([]gateway.UsageRow, error) {
	key, ok := usageKeyColumn[f.By]
	if !ok {
		return nil, fmt.Errorf("sum usage: unknown grouping %q", f.By)
	}
	from, to := f.From.Unix(), f.To.Unix()
	base := `SELECT ` + key + ` AS k,
		COALESCE(SUM(CASE WHEN start_sec >= ? THEN starts ELSE 0 END), 0),
		COALESCE(SUM(gpus * (MIN(end_sec, ?) - MAX(start_sec, ?))), 0),
		COALESCE(SUM(cpus * (MIN(end_sec, ?) - MAX(start_sec, ?))), 0),
		COALESCE(SUM(cost_per_sec * (MIN(end_sec, ?) - MAX(start_sec, ?))), 0)
	FROM usage_slices WHERE end_sec >= ? AND start_sec < ?`
	args := []any{from, to, from, to, from, to, from, from, to}
	type query struct {
		where string
		args  []any
	}
	var queries []query
	if f.All {
		var q query
		if f.Project != "" {
			q.where, q.args = q.where+" AND account = ?", append(q.args, f.Project)
		}
		if f.User != "" {
			q.where, q.args = q.where+" AND user = ?", append(q.args, f.User)
		}
		queries = append(queries, q)
	}
	for _, sc := range f.Scopes {
		q := query{where: " AND account = ?", args: []any{sc.Project}}
		if sc.User != "" {
			q.where, q.args = q.where+" AND user = ?", append(q.args, sc.User)
		}
		queries = append(queries, q)
	}
	var out []gateway.UsageRow
	for _, q := range queries {
		sqlText := base + q.where
		if f.By != gateway.ByNone {
			sqlText += " GROUP BY k"
		}
		rows, err := s.sumUsage(ctx, sqlText, append(append([]any{}, args...), q.args...))
		if err != nil {
			return nil, err
		}
		out = append(out, rows...)
	}
	return out, nil
}

func (s *DB) sumUsage(ctx context.Context, query string, args []any) ([]gateway.UsageRow, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sum usage: %w", err)
	}
	defer rows.Close()
	var out []gateway.UsageRow
	for rows.Next() {
		var r gateway.UsageRow
		if err := rows.Scan(&r.Key, &r.Jobs, &r.GPUSeconds, &r.CPUSeconds, &r.Cost); err != nil {
			return nil, fmt.Errorf("sum usage: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sum usage: %w", err)
	}
	return out, nil
}

// UsageJob returns the ledger record of one job (without its slices and CostPerSecond), or
// CodeNotFound.
func (s *DB) UsageJob(ctx context.Context, cluster, jobID string) (gateway.UsageRecord, error) {
	var row struct {
		User, Account, Partition, Name, State, Currency, TaskID string
		Submit, Start, End                                      nanoTime
		Elapsed, GPUSec, CPUSec                                 int64
		GPUs, CPUs                                              int
		Cost                                                    float64
		FromGateway                                             bool
	}
	err := s.db.QueryRowContext(ctx, `SELECT user, account, partition, name, state, currency, task_id, submit_at,
		start_at, end_at, elapsed_seconds, gpu_seconds, cpu_seconds, gpus, cpus, cost, from_gateway
		FROM usage_jobs WHERE cluster = ? AND job_id = ?`, cluster, jobID).Scan(&row.User, &row.Account, &row.Partition,
		&row.Name, &row.State, &row.Currency, &row.TaskID, &row.Submit, &row.Start, &row.End, &row.Elapsed, &row.GPUSec,
		&row.CPUSec, &row.GPUs, &row.CPUs, &row.Cost, &row.FromGateway)
	if errors.Is(err, sql.ErrNoRows) {
		return gateway.UsageRecord{}, gateway.NotFound("usage of job", jobID)
	}
	if err != nil {
		return gateway.UsageRecord{}, fmt.Errorf("read usage of job %s: %w", jobID, err)
	}
	return gateway.UsageRecord{Cluster: cluster, JobID: jobID, User: row.User, Account: row.Account,
		Partition: row.Partition, Name: row.Name, State: gateway.TaskState(row.State), SubmitAt: row.Submit.time(),
		StartAt: row.Start.time(), EndAt: row.End.time(), ElapsedSec: row.Elapsed, GPUs: row.GPUs, CPUs: row.CPUs,
		GPUSeconds: row.GPUSec, CPUSeconds: row.CPUSec, Cost: row.Cost, Currency: row.Currency,
		FromGateway: row.FromGateway, TaskID: row.TaskID}, nil
}
