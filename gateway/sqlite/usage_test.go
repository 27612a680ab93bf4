package sqlite

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
)

var usageDay = time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)

func usageRec(id, user, account string, start time.Time, sec int64, gpus, cpus int) gateway.UsageRecord {
	js := gateway.JobStatus{JobID: id, User: user, Account: account, State: gateway.TaskCompleted, SubmitAt: start,
		StartAt: start, EndAt: start.Add(time.Duration(sec) * time.Second), ElapsedSec: sec, GPUs: gpus, CPUs: cpus}
	return gateway.NewUsageRecord("c", js, nil, gateway.UsagePrices{PerGPUHour: 1, Currency: "USD"}, time.UTC)
}

func TestUpsertUsageIsIdempotentAndReplacesSlices(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	recs := []gateway.UsageRecord{
		usageRec("1", "alice", "vision", usageDay.Add(23*time.Hour), 7200, 2, 1),
		usageRec("2", "bob", "vision", usageDay.Add(time.Hour), 60, 1, 1),
	}
	if n, err := db.UpsertUsage(ctx, recs); err != nil || n != 2 {
		t.Fatalf("first upsert: %d %v", n, err)
	}
	if n, err := db.UpsertUsage(ctx, recs); err != nil || n != 0 {
		t.Fatalf("same records again: %d changed, %v; want 0", n, err)
	}
	// Job 1 turns out shorter (ends before midnight): its second-day slice must go.
	recs[0] = usageRec("1", "alice", "vision", usageDay.Add(23*time.Hour), 1800, 2, 1)
	if n, err := db.UpsertUsage(ctx, recs); err != nil || n != 1 {
		t.Fatalf("changed record: %d %v", n, err)
	}
	got, err := db.UsageJob(ctx, "c", "1")
	if err != nil || got.ElapsedSec != 1800 || got.GPUSeconds != 3600 || got.User != "alice" || got.Digest() != recs[0].Digest() {
		t.Errorf("UsageJob: %+v %v", got, err)
	}
	if _, err := db.UsageJob(ctx, "c", "99"); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Errorf("unknown job: %v", err)
	}
	var slices, jobs int
	_ = db.db.GetContext(ctx, &slices, "SELECT COUNT(*) FROM usage_slices")
	_ = db.db.GetContext(ctx, &jobs, "SELECT COUNT(*) FROM usage_jobs")
	if slices != 2 || jobs != 2 {
		t.Errorf("rows: %d jobs, %d slices; want 2, 2", jobs, slices)
	}
	f := gateway.UsageFilter{All: true, By: gateway.ByDay}
	f.SetRange(usageDay, usageDay.Add(72*time.Hour), time.UTC)
	rows, err := db.SumUsage(ctx, f)
	if err != nil || len(rows) != 1 || rows[0].Key != "2026-01-10" || rows[0].GPUSeconds != 3600+60 || rows[0].Jobs != 2 {
		t.Errorf("after replace: %+v %v", rows, err)
	}
}

func TestUsageWatermark(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	if _, err := db.UsageWatermark(ctx, "c"); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("no watermark yet: %v", err)
	}
	for _, at := range []time.Time{usageDay, usageDay.Add(time.Hour)} {
		if err := db.SetUsageWatermark(ctx, "c", at); err != nil {
			t.Fatal(err)
		}
		if got, err := db.UsageWatermark(ctx, "c"); err != nil || !got.Equal(at) {
			t.Errorf("watermark = %s %v, want %s", got, err, at)
		}
	}
}

func TestSumUsageClipsAndScopes(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	_, err := db.UpsertUsage(ctx, []gateway.UsageRecord{
		usageRec("1", "alice", "vision", usageDay.Add(10*time.Hour), 7200, 1, 2),
		usageRec("2", "bob", "vision", usageDay.Add(11*time.Hour), 3600, 2, 1),
		usageRec("3", "carol", "speech", usageDay.Add(11*time.Hour), 3600, 4, 1),
	})
	if err != nil {
		t.Fatal(err)
	}
	// [11:00, 11:30): alice's job contributes 30 min but did not start there; bob's starts there
	// (one job, two GPUs).
	f := gateway.UsageFilter{By: gateway.ByUser, Scopes: []gateway.UsageScope{{Project: "vision"}, {Project: "speech", User: "nobody"}}}
	f.SetRange(usageDay.Add(11*time.Hour), usageDay.Add(11*time.Hour+30*time.Minute), time.UTC)
	rows, err := db.SumUsage(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	got := fmt.Sprint(rows)
	want := "[{alice {0 0 1800 3600 0 0 0.5}} {bob {1 2 3600 1800 0 0 1}}]"
	if got != want {
		t.Errorf("rows = %s, want %s", got, want)
	}
}

// TestUsageQueriesUseCoveringIndexes keeps totals off the tables: each scope reads one index.
func TestUsageQueriesUseCoveringIndexes(t *testing.T) {
	db := openTest(t)
	for _, where := range []string{"", " AND account = 'vision'", " AND account = 'vision' AND user = 'alice'"} {
		plan := queryPlan(t, db, "SELECT SUM(gpus * (MIN(end_sec, 5) - MAX(start_sec, 1))), SUM(starts), SUM(cost_per_sec) FROM usage_slices WHERE end_sec >= 1 AND start_sec < 5 AND day IN ('2026-01-01', '2026-01-05')"+where)
		plan += queryPlan(t, db, "SELECT SUM(jobs), SUM(gpus), SUM(gpu_seconds), SUM(cpu_seconds), SUM(cost) FROM usage_days WHERE day >= '2026-01-01' AND day < '2026-02-01'"+where)
		if strings.Count(plan, "COVERING INDEX") != 2 && strings.Count(plan, "PRIMARY KEY") == 0 {
			t.Errorf("%q: plan %s", where, plan)
		}
		if strings.Contains(plan, "SCAN usage_slices\n") || strings.Contains(plan, "SCAN usage_days\n") {
			t.Errorf("%q: full scan: %s", where, plan)
		}
	}
}

// TestUsageDaysStayInStepWithSlices checks the per-day sums against the slices after inserts,
// replacements and a record moving to another user.
func TestUsageDaysStayInStepWithSlices(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	recs := synthUsage(3000)
	if _, err := db.UpsertUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(recs); i += 7 { // longer, and some to another user
		r := recs[i]
		user := r.User
		if i%2 == 0 {
			user = "moved"
		}
		recs[i] = usageRec(r.JobID, user, r.Account, r.StartAt, r.ElapsedSec*3+100, r.GPUs+1, r.CPUs)
	}
	if _, err := db.UpsertUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	var diff []struct {
		Day  string `db:"day"`
		User string `db:"user"`
	}
	err := db.db.SelectContext(ctx, &diff, `SELECT d.day, d.user FROM usage_days d LEFT JOIN (
		SELECT account, user, day, SUM(starts) j, SUM(starts * gpus) n, SUM(gpus * (end_sec - start_sec)) g, SUM(cpus * (end_sec - start_sec)) c,
			SUM(cost_per_sec * (end_sec - start_sec)) m FROM usage_slices GROUP BY account, user, day) s
		USING (account, user, day)
		WHERE d.jobs <> COALESCE(s.j, 0) OR d.gpus <> COALESCE(s.n, 0) OR d.gpu_seconds <> COALESCE(s.g, 0) OR d.cpu_seconds <> COALESCE(s.c, 0)
			OR ABS(d.cost - COALESCE(s.m, 0)) > 1e-6`)
	if err != nil || len(diff) > 0 {
		t.Errorf("usage_days out of step with usage_slices: %v %v", diff, err)
	}
	var moved int
	_ = db.db.GetContext(ctx, &moved, "SELECT COALESCE(SUM(jobs), 0) FROM usage_days WHERE user = 'moved'")
	if moved != 215 {
		t.Errorf("jobs moved to user 'moved': %d, want 215", moved)
	}
}
