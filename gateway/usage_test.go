package gateway_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/gatewaytest"
	"batchgate/gateway/sqlite"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s not available: %v", name, err)
	}
	return loc
}

type sliceWant struct {
	day string
	dur time.Duration
}

func checkSlices(t *testing.T, got []gateway.UsageSlice, want []sliceWant) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("slices = %+v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].Day != w.day || got[i].End.Sub(got[i].Start) != w.dur || got[i].Starts != (i == 0) {
			t.Errorf("slice %d = %s %s..%s starts=%t, want %s %s", i, got[i].Day, got[i].Start, got[i].End, got[i].Starts, w.day, w.dur)
		}
	}
}

func TestSplitDaysAcrossMidnight(t *testing.T) {
	start := time.Date(2026, 1, 10, 23, 30, 0, 0, time.UTC)
	checkSlices(t, gateway.SplitDays(start, 75*60, time.UTC), []sliceWant{{"2026-01-10", 30 * time.Minute}, {"2026-01-11", 45 * time.Minute}})
	// The same instant is still 2026-01-11 08:30 in Taipei: one day, no cut.
	checkSlices(t, gateway.SplitDays(start, 75*60, mustLoc(t, "Asia/Taipei")), []sliceWant{{"2026-01-11", 75 * time.Minute}})
	// Ending exactly at midnight is one slice; a job that never ran is one empty slice.
	checkSlices(t, gateway.SplitDays(start, 30*60, time.UTC), []sliceWant{{"2026-01-10", 30 * time.Minute}})
	checkSlices(t, gateway.SplitDays(start, 0, time.UTC), []sliceWant{{"2026-01-10", 0}})
	// Three days.
	checkSlices(t, gateway.SplitDays(start, 2*86400, time.UTC), []sliceWant{
		{"2026-01-10", 30 * time.Minute}, {"2026-01-11", 24 * time.Hour}, {"2026-01-12", 23*time.Hour + 30*time.Minute}})
}

func TestSplitDaysDST(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	// 2026-03-29 has 23 hours in Berlin (02:00 CET -> 03:00 CEST).
	start := time.Date(2026, 3, 28, 23, 0, 0, 0, berlin)
	checkSlices(t, gateway.SplitDays(start, 26*3600, berlin), []sliceWant{
		{"2026-03-28", time.Hour}, {"2026-03-29", 23 * time.Hour}, {"2026-03-30", 2 * time.Hour}})
	// 2026-10-25 has 25 hours: a job running all of it is one slice of 25 hours.
	start = time.Date(2026, 10, 25, 0, 0, 0, 0, berlin)
	checkSlices(t, gateway.SplitDays(start, 25*3600, berlin), []sliceWant{{"2026-10-25", 25 * time.Hour}})
	checkSlices(t, gateway.SplitDays(start, 26*3600, berlin), []sliceWant{{"2026-10-25", 25 * time.Hour}, {"2026-10-26", time.Hour}})
}

func TestNewUsageRecordFiguresAndPrices(t *testing.T) {
	start := time.Date(2026, 1, 10, 10, 0, 0, 0, time.UTC)
	js := gateway.JobStatus{JobID: "7", User: "alice", Account: "vision", State: gateway.TaskCompleted,
		SubmitAt: start, StartAt: start, EndAt: start.Add(90 * time.Minute), ElapsedSec: 5400, GPUs: 2, CPUs: 4}
	prices := gateway.UsagePrices{PerGPUHour: 2, PerCPUHour: 0.1, Currency: "USD"}
	r := gateway.NewUsageRecord("c", js, nil, prices, time.UTC)
	if r.GPUSeconds != 10800 || r.CPUSeconds != 21600 || r.FromGateway || r.Cost != 2*3+0.1*6 || r.Currency != "USD" {
		t.Errorf("outside job: %+v", r)
	}
	task := &gateway.Task{ID: "t1", PricePerHour: 5, Currency: "EUR"}
	r = gateway.NewUsageRecord("c", js, task, prices, time.UTC)
	if !r.FromGateway || r.TaskID != "t1" || r.Cost != 7.5 || r.Currency != "EUR" {
		t.Errorf("gateway job: %+v", r)
	}
	// Cancelled while pending: no start, whatever sacct says otherwise.
	js.StartAt, js.ElapsedSec = time.Time{}, 99
	r = gateway.NewUsageRecord("c", js, nil, prices, time.UTC)
	if r.ElapsedSec != 0 || r.GPUSeconds != 0 || r.Cost != 0 || len(r.Slices) != 1 || !r.Slices[0].Start.Equal(js.EndAt) {
		t.Errorf("cancelled while pending: %+v", r)
	}
}

func TestParseUsageQueryReportsEveryProblem(t *testing.T) {
	u := gateway.NewUsage(gateway.UsageConfig{MaxRange: 31 * 24 * time.Hour,
		Now: func() time.Time { return time.Date(2026, 2, 15, 12, 0, 0, 0, time.UTC) }}, nil, nil, nil)
	_, err := u.ParseQuery(gateway.UsageQueryInput{From: "yesterday", To: "2026-13-01", GroupBy: "hour"})
	fields := fieldsOf(err)
	if !reflect.DeepEqual(fields, []string{"from", "to", "group_by"}) {
		t.Errorf("fields = %v (%v)", fields, err)
	}
	_, err = u.ParseQuery(gateway.UsageQueryInput{From: "2026-02-10", To: "2026-02-01T00:00:00Z"})
	if fields := fieldsOf(err); !reflect.DeepEqual(fields, []string{"to"}) {
		t.Errorf("to before from: %v", err)
	}
	_, err = u.ParseQuery(gateway.UsageQueryInput{From: "2025-01-01", To: "2026-01-01"})
	if fields := fieldsOf(err); !reflect.DeepEqual(fields, []string{"to"}) || !strings.Contains(err.Error(), "at most") {
		t.Errorf("range too long: %v", err)
	}
	q, err := u.ParseQuery(gateway.UsageQueryInput{From: "2026-02-01", To: "2026-02-01", GroupBy: "week"})
	if err != nil || !q.From.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) || !q.To.Equal(time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("one date: %+v %v", q, err)
	}
	q, err = u.ParseQuery(gateway.UsageQueryInput{})
	if err != nil || !q.From.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) || !q.To.Equal(time.Date(2026, 2, 15, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("defaults: %+v %v", q, err)
	}
}

func fieldsOf(err error) []string {
	ge, ok := err.(*gateway.Error)
	if !ok || ge.Code != gateway.CodeInvalid {
		return nil
	}
	var out []string
	for _, f := range ge.Fields {
		out = append(out, f.Field)
	}
	return out
}

// fakeSource returns the jobs active in the asked window, like sacct, and counts calls.
type fakeSource struct {
	mu      sync.Mutex
	jobs    []gateway.JobStatus
	windows [][2]time.Time
}

func (f *fakeSource) UsageRecords(_ context.Context, from, to time.Time, accounts []string) ([]gateway.JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.windows = append(f.windows, [2]time.Time{from, to})
	var out []gateway.JobStatus
	for _, j := range f.jobs {
		begin := j.SubmitAt
		if begin.Before(to) && (j.EndAt.IsZero() || !j.EndAt.Before(from)) && contains(accounts, j.Account) {
			out = append(out, j)
		}
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func job(id, user, account string, start time.Time, sec int64, gpus, cpus int) gateway.JobStatus {
	return gateway.JobStatus{JobID: id, User: user, Account: account, State: gateway.TaskCompleted, SubmitAt: start,
		StartAt: start, EndAt: start.Add(time.Duration(sec) * time.Second), ElapsedSec: sec, GPUs: gpus, CPUs: cpus}
}

// usageFixture is a real SQLite ledger filled through the Usage service from a fake sacct.
func usageFixture(t *testing.T) (*gateway.Usage, *sqlite.DB, *fakeSource, *gatewaytest.Clock) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, p := range []string{"vision", "speech"} {
		if err := db.AddProject(ctx, gateway.Project{Name: p, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	day := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	cancelled := gateway.JobStatus{JobID: "5", User: "alice", Account: "vision", State: gateway.TaskCancelled,
		SubmitAt: day.Add(5 * time.Hour), EndAt: day.Add(5*time.Hour + time.Minute)}
	src := &fakeSource{jobs: []gateway.JobStatus{
		job("1", "alice", "vision", day.Add(1*time.Hour), 3600, 1, 1),
		job("2", "bob", "vision", day.Add(2*time.Hour), 1800, 2, 2),
		job("3", "carol", "speech", day.Add(3*time.Hour), 600, 4, 4),
		job("4", "alice", "vision", day.Add(23*time.Hour), 7200, 1, 2), // spans midnight: 1h + 1h
		job("6", "dave", "other", day.Add(1*time.Hour), 3600, 4, 4),    // not a project: never read
		cancelled,
	}}
	clock := &gatewaytest.Clock{T: day.Add(48 * time.Hour)}
	u := gateway.NewUsage(gateway.UsageConfig{Cluster: "batchgate", Now: clock.Now, Window: 12 * time.Hour, Overlap: time.Hour,
		Backfill: 72 * time.Hour, StepsPerTick: 3, Prices: gateway.UsagePrices{PerGPUHour: 1, PerCPUHour: 0.5, Currency: "USD"}}, db, src, nil)
	return u, db, src, clock
}

func TestUsageIngestCatchesUpInBoundedStepsAndIsIdempotent(t *testing.T) {
	u, _, src, clock := usageFixture(t)
	ctx := context.Background()
	// 72h of backfill in 12h windows: 3 steps per tick, so two ticks to catch up.
	if n := u.IngestTick(ctx); n != 3 {
		t.Fatalf("first tick took %d steps, want 3", n)
	}
	for i, w := range src.windows {
		if span := w[1].Sub(w[0]); span != 13*time.Hour {
			t.Errorf("window %d spans %s, want 13h (12h + 1h overlap)", i, span)
		}
	}
	if n := u.IngestTick(ctx); n != 3 {
		t.Fatalf("second tick took %d steps, want 3", n)
	}
	if last := src.windows[len(src.windows)-1][1]; !last.Equal(clock.T) {
		t.Fatalf("last window ends %s, want now %s", last, clock.T)
	}
	res, err := u.IngestStep(ctx)
	if err != nil || !res.CaughtUp || res.Changed != 0 {
		t.Fatalf("step once caught up: %+v %v", res, err)
	}
	// Reading everything again changes nothing.
	n, changed, err := u.IngestRange(ctx, clock.T.Add(-100*time.Hour), clock.T)
	if err != nil || n != 5 || changed != 0 {
		t.Fatalf("second ingestion: records %d changed %d err %v; want 5, 0", n, changed, err)
	}
	// A state change (a late, longer record) is picked up.
	src.jobs[0].ElapsedSec, src.jobs[0].EndAt = 7200, src.jobs[0].StartAt.Add(2*time.Hour)
	if _, changed, err = u.IngestRange(ctx, clock.T.Add(-100*time.Hour), clock.T); err != nil || changed != 1 {
		t.Fatalf("changed record: changed %d err %v, want 1", changed, err)
	}
}

func report(t *testing.T, u *gateway.Usage, p gateway.Principal, in gateway.UsageQueryInput) *gateway.UsageReport {
	t.Helper()
	q, err := u.ParseQuery(in)
	if err != nil {
		t.Fatal(err)
	}
	r, err := u.Report(context.Background(), p, q)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUsageReportScopedByRole(t *testing.T) {
	u, _, _, clock := usageFixture(t)
	if _, _, err := u.IngestRange(context.Background(), clock.T.Add(-100*time.Hour), clock.T); err != nil {
		t.Fatal(err)
	}
	root := gateway.Principal{User: "root", SiteAdmin: true}
	window := gateway.UsageQueryInput{From: "2026-01-10", To: "2026-01-11"}
	type want struct{ jobs, gpuSec, cpuSec int64 }
	cases := []struct {
		name string
		p    gateway.Principal
		in   gateway.UsageQueryInput
		want want
	}{
		{"site admin sees all", root, window, want{5, 3600 + 3600 + 2400 + 7200, 3600 + 3600 + 2400 + 14400}},
		{"member sees only herself", alice, window, want{3, 3600 + 7200, 3600 + 14400}},
		{"member asking for another user sees nothing", alice, gateway.UsageQueryInput{From: "2026-01-10", To: "2026-01-11", User: "bob"}, want{}},
		{"project admin sees the project", carol, window, want{1, 2400, 2400}},
		{"site admin narrowed to a user", root, gateway.UsageQueryInput{From: "2026-01-10", To: "2026-01-11", User: "bob"}, want{1, 3600, 3600}},
	}
	for _, c := range cases {
		r := report(t, u, c.p, c.in)
		got := want{r.Totals.Jobs, r.Totals.GPUSeconds, r.Totals.CPUSeconds}
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	q, _ := u.ParseQuery(gateway.UsageQueryInput{Project: "speech"})
	if _, err := u.Report(context.Background(), alice, q); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Errorf("member asking for another project: %v, want not found", err)
	}
}

func TestUsageReportSplitsDaysAndWritesCSV(t *testing.T) {
	u, _, _, clock := usageFixture(t)
	if _, _, err := u.IngestRange(context.Background(), clock.T.Add(-100*time.Hour), clock.T); err != nil {
		t.Fatal(err)
	}
	r := report(t, u, alice, gateway.UsageQueryInput{From: "2026-01-10", To: "2026-01-11", GroupBy: "day"})
	if len(r.Series) != 2 || r.Series[0].Key != "2026-01-10" || r.Series[0].GPUSeconds != 3600+3600 ||
		r.Series[1].Key != "2026-01-11" || r.Series[1].GPUSeconds != 3600 || r.Series[1].Jobs != 0 || r.Series[0].Jobs != 3 {
		t.Fatalf("day series: %+v", r.Series)
	}
	// Only the first day: job 4 counts its first hour only.
	r = report(t, u, alice, gateway.UsageQueryInput{From: "2026-01-10", To: "2026-01-10"})
	if r.Totals.GPUSeconds != 7200 || r.Totals.CPUSeconds != 3600+7200 {
		t.Errorf("first day only: %+v", r.Totals)
	}
	// Cost: outside jobs at 1/GPU-hour + 0.5/CPU-hour.
	r = report(t, u, alice, gateway.UsageQueryInput{From: "2026-01-10", To: "2026-01-11", GroupBy: "week"})
	if r.Totals.Cost != 1*3+0.5*5 || len(r.Series) != 1 || r.Series[0].Key != "2026-01-05" {
		t.Errorf("week: %+v", r)
	}
	r = report(t, u, gateway.Principal{User: "root", SiteAdmin: true}, gateway.UsageQueryInput{From: "2026-01-10", To: "2026-01-11", GroupBy: "user"})
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	lines, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		// gpus: alice's jobs 1 and 4 have one GPU each (her cancelled job 5 none), bob's job two,
		// carol's four.
		{"user", "jobs", "gpus", "gpu_seconds", "cpu_seconds", "gpu_hours", "cpu_hours", "cost", "currency"},
		{"alice", "3", "2", "10800", "18000", "3.0000", "5.0000", "5.50", "USD"},
		{"bob", "1", "2", "3600", "3600", "1.0000", "1.0000", "1.50", "USD"},
		{"carol", "1", "4", "2400", "2400", "0.6667", "0.6667", "1.00", "USD"},
		{"total", "5", "8", "16800", "24000", "4.6667", "6.6667", "8.00", "USD"},
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("csv:\n%v\nwant\n%v", lines, want)
	}
}

// taskStore is the real ledger with a fixed set of gateway tasks.
type taskStore struct {
	*sqlite.DB
	tasks map[string]*gateway.Task
}

func (s taskStore) Task(_ context.Context, id string) (*gateway.Task, error) {
	if t, ok := s.tasks[id]; ok {
		return t, nil
	}
	return nil, gateway.NotFound("task", id)
}

func TestUsageRecognisesGatewayJobsOnlyWhenTheTaskMatches(t *testing.T) {
	_, db, _, _ := usageFixture(t)
	store := taskStore{DB: db, tasks: map[string]*gateway.Task{
		"t1": {ID: "t1", Owner: "alice", Project: "vision", JobID: "10", PricePerHour: 5, Currency: "USD"},
	}}
	u := gateway.NewUsage(gateway.UsageConfig{Prices: gateway.UsagePrices{PerGPUHour: 1, Currency: "USD"}}, store, nil, nil)
	start := time.Date(2026, 1, 10, 1, 0, 0, 0, time.UTC)
	mk := func(id, user, comment string) gateway.JobStatus {
		j := job(id, user, "vision", start, 3600, 2, 1)
		j.Comment = comment
		return j
	}
	recs, err := u.Records(context.Background(), []gateway.JobStatus{
		mk("10", "alice", "t1"), // the task's own job: flavor price
		mk("11", "alice", "t1"), // another job claiming the task: not the task's job id
		mk("12", "bob", "t1"),   // someone else's job with the task id as comment
		mk("13", "alice", "t9"), // unknown task
	})
	if err != nil {
		t.Fatal(err)
	}
	wantGateway := []bool{true, false, false, false}
	wantCost := []float64{5, 2, 2, 2}
	for i, r := range recs {
		if r.FromGateway != wantGateway[i] || r.Cost != wantCost[i] {
			t.Errorf("job %s: from_gateway %t cost %v, want %t %v", r.JobID, r.FromGateway, r.Cost, wantGateway[i], wantCost[i])
		}
	}
}

func TestUsageFilterSetRangeSplitsWholeAndEdgeDays(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	at := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, berlin) }
	cases := []struct {
		from, to         time.Time
		fullFrom, fullTo string
		edges            string
	}{
		{at(28, 0), at(31, 0), "2026-03-28", "2026-03-31", ""},                       // whole days, over the DST change
		{at(28, 8), at(31, 0), "2026-03-29", "2026-03-31", "2026-03-28"},             // partial first day
		{at(28, 8), at(30, 12), "2026-03-29", "2026-03-30", "2026-03-28,2026-03-30"}, // both edges
		{at(28, 8), at(28, 12), "2026-03-28", "2026-03-28", "2026-03-28"},            // inside one day
		{at(28, 8), at(29, 0), "2026-03-29", "2026-03-29", "2026-03-28"},             // to the next midnight
	}
	for _, c := range cases {
		var f gateway.UsageFilter
		f.SetRange(c.from, c.to, berlin)
		if f.FullFrom != c.fullFrom || f.FullTo != c.fullTo || strings.Join(f.EdgeDays, ",") != c.edges {
			t.Errorf("%s..%s: full %s..%s edges %v, want %s..%s %s", c.from, c.to, f.FullFrom, f.FullTo, f.EdgeDays, c.fullFrom, c.fullTo, c.edges)
		}
	}
}

func TestRunIngestTicksAtOnceAndStops(t *testing.T) {
	u, db, src, clock := usageFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.RunIngest(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if wm, err := db.UsageWatermark(context.Background(), "batchgate"); err == nil && wm.Equal(clock.T.Add(-72*time.Hour).Add(36*time.Hour)) {
			break // the first tick's 3 steps of 12h, without waiting for the interval
		}
		if time.Now().After(deadline) {
			t.Fatal("the first tick did not run at once")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunIngest did not stop when its context ended")
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if len(src.windows) != 3 {
		t.Errorf("sacct windows read: %d, want 3 (one tick, interval 1m)", len(src.windows))
	}
}
