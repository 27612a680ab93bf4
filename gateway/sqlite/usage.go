package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
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

// UsageWatermark returns where ingestion of cluster stopped (gateway.UsageStore); CodeNotFound
// before the first window was ingested.
func (s *DB) UsageWatermark(ctx context.Context, cluster string) (time.Time, error) {
	var at nanoTime
	err := s.db.GetContext(ctx, &at, "SELECT watermark FROM usage_watermarks WHERE cluster = ?", cluster)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, gateway.NotFound("usage watermark", cluster)
	}
	if err != nil {
		return time.Time{}, dbErrorf("read usage watermark: %w", err)
	}
	return at.time(), nil
}

// SetUsageWatermark records where ingestion of cluster stopped.
func (s *DB) SetUsageWatermark(ctx context.Context, cluster string, at time.Time) error {
	_, err := s.exec(ctx, `INSERT INTO usage_watermarks (cluster, watermark, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (cluster) DO UPDATE SET watermark = excluded.watermark, updated_at = excluded.updated_at`,
		cluster, nt(at), nt(s.now()))
	if err != nil {
		return dbErrorf("write usage watermark: %w", err)
	}
	return nil
}

// usageKeyColumn is the column SumUsage groups by, per key.
var usageKeyColumn = map[gateway.UsageKey]string{
	gateway.ByNone: "''", gateway.ByDay: "day", gateway.ByUser: "user", gateway.ByProject: "account",
}

// SumUsage adds up the usage f selects over [f.From, f.To), grouped by f.By
// (gateway.UsageStore): the days wholly inside the range (f.FullFrom..f.FullTo) from usage_days,
// the edge days (f.EdgeDays) from their slices clipped to the range. Each scope is its own
// queries on covering indexes; rows may repeat a key (the Service adds them up). Jobs counts
// jobs that started in the range, and GPUs the GPUs they were allocated.
func (s *DB) SumUsage(ctx context.Context, f gateway.UsageFilter) ([]gateway.UsageRow, error) {
	key, ok := usageKeyColumn[f.By]
	if !ok {
		return nil, dbErrorf("sum usage: unknown grouping %q", f.By)
	}
	group := ""
	if f.By != gateway.ByNone {
		group = " GROUP BY k"
	}
	from, to := f.From.Unix(), f.To.Unix()
	days := `SELECT ` + key + ` AS k, COALESCE(SUM(jobs), 0), COALESCE(SUM(gpus), 0), COALESCE(SUM(gpu_seconds), 0),
		COALESCE(SUM(cpu_seconds), 0), COALESCE(SUM(cost), 0)
	FROM usage_days WHERE day >= ? AND day < ?`
	edges := `SELECT ` + key + ` AS k,
		COALESCE(SUM(CASE WHEN start_sec >= ? THEN starts ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN start_sec >= ? THEN starts * gpus ELSE 0 END), 0),
		COALESCE(SUM(gpus * (MIN(end_sec, ?) - MAX(start_sec, ?))), 0),
		COALESCE(SUM(cpus * (MIN(end_sec, ?) - MAX(start_sec, ?))), 0),
		COALESCE(SUM(cost_per_sec * (MIN(end_sec, ?) - MAX(start_sec, ?))), 0)
	FROM usage_slices WHERE end_sec >= ? AND start_sec < ? AND day IN (` + strings.Repeat("?,", max(len(f.EdgeDays), 1)-1) + `?)`
	edgeArgs := []any{from, from, to, from, to, from, to, from, from, to}
	for _, d := range f.EdgeDays {
		edgeArgs = append(edgeArgs, d)
	}
	var out []gateway.UsageRow
	for _, sc := range usageScopes(f) {
		if f.FullFrom < f.FullTo {
			rows, err := s.sumUsage(ctx, days+sc.where+group, append([]any{f.FullFrom, f.FullTo}, sc.args...))
			if err != nil {
				return nil, err
			}
			out = append(out, rows...)
		}
		if len(f.EdgeDays) > 0 {
			rows, err := s.sumUsage(ctx, edges+sc.where+group, append(append([]any{}, edgeArgs...), sc.args...))
			if err != nil {
				return nil, err
			}
			out = append(out, rows...)
		}
	}
	return out, nil
}

// scopeClause is the WHERE addition of one scope.
type scopeClause struct {
	where string
	args  []any
}

// usageScopes turns f's scopes into one clause each (usage_days and usage_slices share the
// account and user columns).
func usageScopes(f gateway.UsageFilter) []scopeClause {
	var out []scopeClause
	add := func(project, user string) {
		var c scopeClause
		if project != "" {
			c.where, c.args = c.where+" AND account = ?", append(c.args, project)
		}
		if user != "" {
			c.where, c.args = c.where+" AND user = ?", append(c.args, user)
		}
		out = append(out, c)
	}
	if f.All {
		add(f.Project, f.User)
	}
	for _, sc := range f.Scopes {
		add(sc.Project, sc.User)
	}
	return out
}

func (s *DB) sumUsage(ctx context.Context, query string, args []any) ([]gateway.UsageRow, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, dbErrorf("sum usage: %w", err)
	}
	defer rows.Close()
	var out []gateway.UsageRow
	for rows.Next() {
		var r gateway.UsageRow
		if err := rows.Scan(&r.Key, &r.Jobs, &r.GPUs, &r.GPUSeconds, &r.CPUSeconds, &r.Cost); err != nil {
			return nil, dbErrorf("sum usage: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErrorf("sum usage: %w", err)
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
		return gateway.UsageRecord{}, dbErrorf("read usage of job %s: %w", jobID, err)
	}
	return gateway.UsageRecord{Cluster: cluster, JobID: jobID, User: row.User, Account: row.Account,
		Partition: row.Partition, Name: row.Name, State: gateway.TaskState(row.State), SubmitAt: row.Submit.time(),
		StartAt: row.Start.time(), EndAt: row.End.time(), ElapsedSec: row.Elapsed, GPUs: row.GPUs, CPUs: row.CPUs,
		GPUSeconds: row.GPUSec, CPUSeconds: row.CPUSec, Cost: row.Cost, Currency: row.Currency,
		FromGateway: row.FromGateway, TaskID: row.TaskID}, nil
}
