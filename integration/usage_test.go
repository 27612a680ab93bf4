package integration

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
)

// usageJob is one job this test submits directly with sbatch (not through the gateway).
type usageJob struct {
	user, account string
	gpus, sec     int
}

// sbatchAs submits `sleep sec` as user with gpus GPUs and returns the job id; hold submits it
// held (it is then cancelled while pending).
func sbatchAs(t *testing.T, j usageJob, hold bool) string {
	t.Helper()
	dir := filepath.Join(os.Getenv("BATCHGATE_HFS_ROOT"), "work", j.user)
	args := []string{"-u", j.user, "--", "sbatch", "--parsable", "--account=" + j.account, "--chdir=" + dir,
		"--output=/dev/null", "--job-name=usage-test", "--cpus-per-task=1", "--wrap", "sleep " + strconv.Itoa(j.sec)}
	if j.gpus > 0 {
		args = append(args, "--gres=gpu:"+strconv.Itoa(j.gpus))
	}
	if hold {
		args = append(args, "--hold")
	}
	out, err := exec.Command("runuser", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sbatch as %s: %v: %s", j.user, err, out)
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	return id
}

// sacctFigures reads jobs' figures straight from `sacct -X -P -n`: elapsed seconds, CPUs and
// the untyped gres/gpu count of AllocTRES, by job id.
func sacctFigures(t *testing.T, ids []string) map[string][3]int64 {
	t.Helper()
	cmd := exec.Command("sacct", "-X", "-P", "-n", "--allusers", "-j", strings.Join(ids, ","),
		"--format=JobID,ElapsedRaw,AllocCPUS,AllocTRES")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sacct: %v", err)
	}
	figs := map[string][3]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 4 {
			continue
		}
		el, _ := strconv.ParseInt(f[1], 10, 64)
		cpus, _ := strconv.ParseInt(f[2], 10, 64)
		var gpus int64
		for _, item := range strings.Split(f[3], ",") {
			if v, ok := strings.CutPrefix(item, "gres/gpu="); ok {
				gpus, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		figs[f[0]] = [3]int64{el, cpus, gpus}
	}
	return figs
}

// TestUsageLedgerMatchesSacct submits jobs with 0, 1, 2 and 4 GPUs as alice, bob and carol
// directly with sbatch (and one 1-GPU job through the gateway's API), ingests the window that holds them, and checks the ledger against sacct
// job by job and in sum, a held job cancelled while pending, a second ingestion, and who sees what
// on /usage. Other engineers' jobs share the cluster, so sums are taken over this test's job ids;
// the API totals can only be compared as "at least" ours.
func TestUsageLedgerMatchesSacct(t *testing.T) {
	g := startDevGateway(t, map[string]string{"usage.backfill": "1m", "usage.ingest_interval": "1h"})
	ctx := context.Background()
	from := time.Now().UTC().Truncate(time.Second).Add(-time.Second)
	jobs := []usageJob{
		{"alice", "vision", 0, 2}, {"alice", "vision", 1, 3}, {"bob", "vision", 2, 2}, {"carol", "speech", 4, 3},
	}
	// One job through the gateway (flavor gpu-1: 1 GPU at 2.50 an hour), the others directly.
	var ctr apiContainer
	if st := g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{"project": "vision", "name": "usage",
		"image": "busybox", "flavor": "gpu-1", "command": "sleep 2"}, &ctr); st != 201 {
		t.Fatalf("create container: %d", st)
	}
	var task apiTask
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+ctr.ID+"/start", nil, &task); st != 202 || task.JobID == "" {
		t.Fatalf("start: %d %+v", st, task)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, sbatchAs(t, j, false))
	}
	held := sbatchAs(t, usageJob{"alice", "vision", 1, 2}, true)
	if out, err := exec.Command("runuser", "-u", "alice", "--", "scancel", held).CombinedOutput(); err != nil {
		t.Fatalf("scancel: %v %s", err, out)
	}
	// Wait until sacct has every job ended with its final figures (sacct lags slurmctld).
	deadline := time.Now().Add(40 * time.Second)
	for {
		out, _ := exec.Command("sacct", "-X", "-P", "-n", "--allusers", "-j", strings.Join(append(ids, task.JobID), ","), "--format=JobID,State").Output()
		done := strings.Count(string(out), "COMPLETED")
		if done == len(ids)+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs did not complete in time: %s", out)
		}
		time.Sleep(time.Second)
	}
	to := time.Now().UTC().Truncate(time.Second).Add(time.Second)

	// Right after a job ends, sacct may still show its placeholder record without an eligible
	// time, which windowed queries leave out (sacct lags slurmctld): ingestion's overlap picks such jobs
	// up later; here the window is read again until every job is in.
	u := g.d.Usage()
	for missing := append(slices.Clone(ids), task.JobID); len(missing) > 0; {
		if _, _, err := u.IngestRange(ctx, from, to); err != nil {
			t.Fatalf("ingest: %v", err)
		}
		var still []string
		for _, id := range missing {
			if _, err := g.d.Store().UsageJob(ctx, "batchgate", id); err != nil {
				still = append(still, id)
			}
		}
		if missing = still; len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs %v never appeared in windowed sacct", missing)
		}
		time.Sleep(500 * time.Millisecond)
	}
	figs := sacctFigures(t, ids)
	var want, got [3]int64 // GPU-seconds, CPU-seconds, jobs
	for i, id := range ids {
		rec, err := g.d.Store().UsageJob(ctx, "batchgate", id)
		if err != nil {
			t.Fatalf("job %s not in the ledger: %v", id, err)
		}
		f := figs[id]
		if rec.ElapsedSec != f[0] || int64(rec.CPUs) != f[1] || int64(rec.GPUs) != f[2] || rec.GPUs != jobs[i].gpus ||
			rec.User != jobs[i].user || rec.Account != jobs[i].account || rec.FromGateway {
			t.Errorf("job %s: ledger %+v, sacct elapsed/cpus/gpus %v", id, rec, f)
		}
		want = [3]int64{want[0] + f[0]*f[2], want[1] + f[0]*f[1], want[2] + 1}
		got = [3]int64{got[0] + rec.GPUSeconds, got[1] + rec.CPUSeconds, got[2] + 1}
	}
	if got != want || want[0] == 0 {
		t.Errorf("ledger sums %v, sacct sums %v (GPU-s, CPU-s, jobs)", got, want)
	}
	// The gateway's job is recognised by its task id and priced at its flavor's price.
	gw, err := g.d.Store().UsageJob(ctx, "batchgate", task.JobID)
	if f := sacctFigures(t, []string{task.JobID})[task.JobID]; err != nil || !gw.FromGateway || gw.TaskID != task.ID ||
		gw.GPUs != 1 || gw.ElapsedSec != f[0] || gw.ElapsedSec == 0 || math.Abs(gw.Cost-float64(gw.ElapsedSec)/3600*2.5) > 1e-9 {
		t.Errorf("gateway job %s: %+v %v (sacct %v)", task.JobID, gw, err, f)
	}
	// The held job never became eligible: windowed sacct leaves it out, and it costs nothing.
	if rec, err := g.d.Store().UsageJob(ctx, "batchgate", held); err == nil && (rec.GPUSeconds != 0 || rec.CPUSeconds != 0 || rec.Cost != 0) {
		t.Errorf("job cancelled while pending has usage: %+v", rec)
	}

	// A second ingestion of the same window changes none of this test's (ended) jobs.
	before := map[string]string{}
	for _, id := range ids {
		rec, _ := g.d.Store().UsageJob(ctx, "batchgate", id)
		before[id] = rec.Digest()
	}
	if _, _, err := u.IngestRange(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if rec, _ := g.d.Store().UsageJob(ctx, "batchgate", id); rec.Digest() != before[id] {
			t.Errorf("job %s changed on re-ingestion: %s -> %s", id, before[id], rec.Digest())
		}
	}

	checkUsageRoles(t, g, from, to, want)
}

// checkUsageRoles is the authorization matrix on /usage over [from, to).
func checkUsageRoles(t *testing.T, g *devGateway, from, to time.Time, ours [3]int64) {
	t.Helper()
	q := "/api/v1/usage?from=" + from.Format(time.RFC3339) + "&to=" + to.Format(time.RFC3339)
	keys := func(user, groupBy, extra string) (map[string]gateway.UsageFigures, int) {
		var rep gateway.UsageReport
		status := g.call(t, user, "GET", q+"&group_by="+groupBy+extra, nil, &rep)
		out := map[string]gateway.UsageFigures{}
		for _, b := range rep.Series {
			out[b.Key] = b.UsageFigures
		}
		return out, status
	}
	if byUser, status := keys("alice", "user", ""); status != 200 || len(byUser) != 1 || byUser["alice"].Jobs < 2 {
		t.Errorf("alice (member) by user: %d %v, want only herself", status, byUser)
	}
	if byProject, status := keys("carol", "project", ""); status != 200 || len(byProject) != 1 || byProject["speech"].GPUSeconds < 12 {
		t.Errorf("carol (admin of speech) by project: %d %v, want speech only", status, byProject)
	}
	byProject, status := keys("root", "project", "")
	total := byProject["vision"].GPUSeconds + byProject["speech"].GPUSeconds
	if status != 200 || total < ours[0] || byProject["vision"].Jobs+byProject["speech"].Jobs < ours[2] {
		t.Errorf("root by project: %d %v, want at least our %v", status, byProject, ours)
	}
	if _, status := keys("alice", "user", "&project=speech"); status != 404 {
		t.Errorf("alice asking for speech: %d, want 404", status)
	}
	if byUser, status := keys("alice", "user", "&user=bob"); status != 200 || len(byUser) != 0 {
		t.Errorf("alice asking for bob: %d %v, want empty", status, byUser)
	}
}
