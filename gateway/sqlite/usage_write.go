package sqlite

import (
	"context"
	"database/sql"
	"sort"
	"time"

	"github.com/jmoiron/sqlx"

	"batchgate/gateway"
)

// This file writes the usage ledger: job rows, their day slices, and the per-day sums
// (usage_days) kept in step with the slices. A batch collects the day sums' changes in memory
// and applies each (project, user, day) once, so a backlog of 100,000 jobs writes a few thousand
// day rows, not one per slice.

const usageSliceInsert = `INSERT INTO usage_slices (cluster, job_id, day, account, user, start_sec, end_sec,
	gpus, cpus, cost_per_sec, starts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// usageDayAdd adds a change to one day's sums.
const usageDayAdd = `INSERT INTO usage_days (account, user, day, jobs, gpus, gpu_seconds, cpu_seconds, cost)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account, user, day) DO UPDATE SET jobs = jobs + excluded.jobs, gpus = gpus + excluded.gpus,
	gpu_seconds = gpu_seconds + excluded.gpu_seconds, cpu_seconds = cpu_seconds + excluded.cpu_seconds,
	cost = cost + excluded.cost`

// usageDayPrune removes a day left empty (its jobs moved or got shorter): it would show as an
// empty group.
const usageDayPrune = `DELETE FROM usage_days WHERE account = ? AND user = ? AND day = ?
	AND jobs = 0 AND gpus = 0 AND gpu_seconds = 0 AND cpu_seconds = 0 AND ABS(cost) < 1e-9`

// storedSlice is a usage_slices row.
type storedSlice struct {
	Day     string  `db:"day"`
	Account string  `db:"account"`
	User    string  `db:"user"`
	Start   int64   `db:"start_sec"`
	End     int64   `db:"end_sec"`
	GPUs    int64   `db:"gpus"`
	CPUs    int64   `db:"cpus"`
	Rate    float64 `db:"cost_per_sec"`
	Starts  int64   `db:"starts"`
}

type dayKey struct{ account, user, day string }

type dayDelta struct {
	jobs, gpus, gpuSec, cpuSec int64
	cost                       float64
	shrunk                     bool // something was taken away: the day may be left empty
}

// usageWriter writes one batch in one transaction with prepared statements.
type usageWriter struct {
	tx                       *sqlx.Tx
	job, delSlices, insSlice *sql.Stmt
	oldSlices                *sqlx.Stmt
	days                     map[dayKey]*dayDelta
	now                      time.Time
}

func newUsageWriter(ctx context.Context, tx *sqlx.Tx, now time.Time) (*usageWriter, error) {
	w := &usageWriter{tx: tx, now: now, days: map[dayKey]*dayDelta{}}
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = tx.PrepareContext(ctx, q)
		return st
	}
	w.job = prep(usageJobUpsert)
	w.delSlices = prep("DELETE FROM usage_slices WHERE cluster = ? AND job_id = ?")
	w.insSlice = prep(usageSliceInsert)
	if err == nil {
		w.oldSlices, err = tx.PreparexContext(ctx, `SELECT day, account, user, start_sec, end_sec, gpus, cpus,
			cost_per_sec, starts FROM usage_slices WHERE cluster = ? AND job_id = ?`)
	}
	if err != nil {
		w.close()
		return nil, dbErrorf("upsert usage: %w", err)
	}
	return w, nil
}

func (w *usageWriter) close() {
	for _, st := range []*sql.Stmt{w.job, w.delSlices, w.insSlice} {
		if st != nil {
			st.Close()
		}
	}
	if w.oldSlices != nil {
		w.oldSlices.Close()
	}
}

// write upserts r and reports whether it was new or different.
func (w *usageWriter) write(ctx context.Context, r *gateway.UsageRecord) (bool, error) {
	res, err := w.job.ExecContext(ctx, r.Cluster, r.JobID, r.User, r.Account, r.Partition, r.Name, r.State,
		nt(r.SubmitAt), nt(r.StartAt), nt(r.EndAt), r.ElapsedSec, r.GPUs, r.CPUs, r.GPUSeconds, r.CPUSeconds,
		r.Cost, r.Currency, r.FromGateway, r.TaskID, r.Digest(), nt(w.now))
	if err != nil {
		return false, dbErrorf("upsert usage of job %s: %w", r.JobID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, nil // unchanged (the digest matched)
	}
	return true, w.replaceSlices(ctx, r)
}

// replaceSlices swaps r's stored slices for its new ones, taking the old ones' figures away from
// their days and adding the new ones'.
func (w *usageWriter) replaceSlices(ctx context.Context, r *gateway.UsageRecord) error {
	var old []storedSlice
	if err := w.oldSlices.SelectContext(ctx, &old, r.Cluster, r.JobID); err != nil {
		return dbErrorf("read usage slices of job %s: %w", r.JobID, err)
	}
	for _, sl := range old {
		w.add(sl, -1)
	}
	if len(old) > 0 {
		if _, err := w.delSlices.ExecContext(ctx, r.Cluster, r.JobID); err != nil {
			return dbErrorf("replace usage slices of job %s: %w", r.JobID, err)
		}
	}
	for _, s := range r.Slices {
		sl := storedSlice{Day: s.Day, Account: r.Account, User: r.User, Start: s.Start.Unix(), End: s.End.Unix(),
			GPUs: int64(r.GPUs), CPUs: int64(r.CPUs), Rate: r.CostPerSecond}
		if s.Starts {
			sl.Starts = 1
		}
		if _, err := w.insSlice.ExecContext(ctx, r.Cluster, r.JobID, sl.Day, sl.Account, sl.User, sl.Start,
			sl.End, sl.GPUs, sl.CPUs, sl.Rate, sl.Starts); err != nil {
			return dbErrorf("write usage slice of job %s: %w", r.JobID, err)
		}
		w.add(sl, 1)
	}
	return nil
}

// add records sign times sl's figures against its day.
func (w *usageWriter) add(sl storedSlice, sign int64) {
	k := dayKey{sl.Account, sl.User, sl.Day}
	d := w.days[k]
	if d == nil {
		d = &dayDelta{}
		w.days[k] = d
	}
	sec := sl.End - sl.Start
	d.jobs += sign * sl.Starts
	d.gpus += sign * sl.Starts * sl.GPUs
	d.gpuSec += sign * sl.GPUs * sec
	d.cpuSec += sign * sl.CPUs * sec
	d.cost += float64(sign) * sl.Rate * float64(sec)
	d.shrunk = d.shrunk || sign < 0
}

// flush applies the batch's day changes, in key order.
func (w *usageWriter) flush(ctx context.Context) error {
	keys := make([]dayKey, 0, len(w.days))
	for k := range w.days {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.account < b.account || a.account == b.account && (a.user < b.user || a.user == b.user && a.day < b.day)
	})
	add, err := w.tx.PrepareContext(ctx, usageDayAdd)
	if err != nil {
		return dbErrorf("update usage days: %w", err)
	}
	defer add.Close()
	for _, k := range keys {
		d := w.days[k]
		if _, err := add.ExecContext(ctx, k.account, k.user, k.day, d.jobs, d.gpus, d.gpuSec, d.cpuSec, d.cost); err != nil {
			return dbErrorf("update usage of %s: %w", k.day, err)
		}
		if d.shrunk {
			if _, err := w.tx.ExecContext(ctx, usageDayPrune, k.account, k.user, k.day); err != nil {
				return dbErrorf("prune usage of %s: %w", k.day, err)
			}
		}
	}
	return nil
}

func upsertUsageBatch(ctx context.Context, tx *sqlx.Tx, recs []gateway.UsageRecord, now time.Time) (int, error) {
	w, err := newUsageWriter(ctx, tx, now)
	if err != nil {
		return 0, err
	}
	defer w.close()
	changed := 0
	for i := range recs {
		ok, err := w.write(ctx, &recs[i])
		if err != nil {
			return changed, err
		}
		if ok {
			changed++
		}
	}
	return changed, w.flush(ctx)
}
