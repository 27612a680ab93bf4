package slurm

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Integration tests against the real dev cluster (scripts/devcluster); they
// skip when SLURM_CONF is unset. They submit as alice through runuser, so
// they need root.

type cluster struct {
	c   *Client
	ny  *time.Location
	dir string // alice's HFS work dir
	tag string
}

func devCluster(t *testing.T) *cluster {
	t.Helper()
	conf := os.Getenv("SLURM_CONF")
	if conf == "" {
		t.Skip("SLURM_CONF unset: no dev cluster (eval \"$(scripts/devcluster env)\")")
	}
	hfs := os.Getenv("BATCHGATE_HFS_ROOT")
	if hfs == "" {
		t.Skip("BATCHGATE_HFS_ROOT unset")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to submit as alice")
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	// The gateway's own zone must not shift anything.
	t.Setenv("TZ", "America/New_York")
	c, err := New(Config{
		Env:      []string{"SLURM_CONF=" + conf, "TZ=America/New_York"},
		Wrapper:  []string{"runuser", "-u", "{user}", "--"},
		Timeout:  20 * time.Second,
		Location: ny,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("dev cluster not up: %v", err)
	}
	return &cluster{c: c, ny: ny, dir: filepath.Join(hfs, "work", "alice"),
		tag: "it" + strconv.FormatInt(time.Now().UnixNano(), 36)}
}

func (k *cluster) spec(name string, cmd ...string) JobSpec {
	return JobSpec{Name: name, Account: "vision", Partition: "gpu", WorkDir: k.dir,
		Output: filepath.Join(k.dir, k.tag+"-"+name+"-%j.out"), Comment: k.tag + "-" + name,
		TimeLimit: 10 * time.Minute, Command: cmd}
}

func (k *cluster) submit(t *testing.T, user string, spec JobSpec) JobID {
	t.Helper()
	script, err := k.c.Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	id, err := k.c.Submit(context.Background(), user, script)
	if err != nil {
		t.Fatalf("submit %s: %v", spec.Name, err)
	}
	t.Cleanup(func() { _ = k.c.Cancel(context.Background(), "", id) })
	return id
}

// waitJob polls squeue until ok(job) or the deadline.
func (k *cluster) waitJob(t *testing.T, id JobID, what string, ok func(JobStatus) bool) JobStatus {
	t.Helper()
	var last JobStatus
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		jobs, err := k.c.Poll(context.Background())
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.ID == id {
				last = j
				if ok(j) {
					return j
				}
			}
		}
	}
	t.Fatalf("job %s never %s; last seen %+v", id, what, last)
	return last
}

// waitAcct reads sacct (which lags slurmctld) until the job has ended there.
func (k *cluster) waitAcct(t *testing.T, id JobID, since time.Time) AcctRecord {
	t.Helper()
	for deadline := time.Now().Add(40 * time.Second); time.Now().Before(deadline); time.Sleep(time.Second) {
		recs, err := k.c.Accounting(context.Background(), AcctQuery{From: since.Add(-time.Minute),
			To: time.Now().Add(2 * time.Hour), JobIDs: []JobID{id}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			// Right after a job ends sacct may show a placeholder row named
			// "allocation" with empty fields; wait for the real one.
			if r.ID == id && r.State.Terminal() && !r.End.IsZero() && r.Name != "allocation" {
				return r
			}
		}
	}
	t.Fatalf("job %s never ended in sacct", id)
	return AcctRecord{}
}

func TestIntegrationBeginNextHourStartNowRunsAsAlice(t *testing.T) {
	k := devCluster(t)
	start := time.Now()
	begin := NextWholeHour(start, k.ny)
	spec := k.spec("hourly", "/bin/sh", "-c", "id -un; echo written > "+Quote(filepath.Join(k.dir, k.tag+"-owned")))
	spec.Begin = begin
	id := k.submit(t, "alice", spec)

	j := k.waitJob(t, id, "pending for its hour", func(j JobStatus) bool { return j.Reason == ReasonBeginTime })
	if j.State != StatePending || !j.Eligible.Equal(begin) || j.User != "alice" || j.Comment != spec.Comment {
		t.Fatalf("job = %+v; want PENDING/BeginTime eligible at %s (TZ=America/New_York must not shift it)", j, begin.UTC())
	}
	if err := k.c.StartNow(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	j = k.waitJob(t, id, "completed", func(j JobStatus) bool { return j.State.Terminal() })
	if j.State != StateCompleted {
		t.Fatalf("job = %+v", j)
	}
	out, err := os.ReadFile(filepath.Join(k.dir, k.tag+"-hourly-"+string(id)+".out"))
	if err != nil || strings.TrimSpace(string(out)) != "alice" {
		t.Errorf("output %q, %v; want alice", out, err)
	}
	fi, err := os.Stat(filepath.Join(k.dir, k.tag+"-owned"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid == 0 {
		t.Errorf("file written by the job is owned by root, want alice")
	}
	if err := k.c.StartNow(context.Background(), id); !errors.Is(err, ErrJobNotPending) && !errors.Is(err, ErrJobNotFound) {
		t.Errorf("StartNow on an ended job: %v", err)
	}
}

func TestIntegrationTwoGPUs(t *testing.T) {
	k := devCluster(t)
	start := time.Now()
	spec := k.spec("gpu2", "/bin/sh", "-c", `echo "$CUDA_VISIBLE_DEVICES"`)
	spec.GPUs = 2
	id := k.submit(t, "alice", spec)
	k.waitJob(t, id, "ended", func(j JobStatus) bool { return j.State.Terminal() })
	out, err := os.ReadFile(filepath.Join(k.dir, k.tag+"-gpu2-"+string(id)+".out"))
	if err != nil {
		t.Fatal(err)
	}
	if devs := strings.Split(strings.TrimSpace(string(out)), ","); len(devs) != 2 {
		t.Errorf("CUDA_VISIBLE_DEVICES = %q, want two devices", out)
	}
	r := k.waitAcct(t, id, start)
	if r.GPUs != 2 || r.State != StateCompleted || r.User != "alice" || r.Account != "vision" || r.Comment != spec.Comment {
		t.Errorf("sacct record = %+v; want 2 GPUs, COMPLETED, alice, vision, comment", r)
	}
}

func TestIntegrationCancelPendingAndRunning(t *testing.T) {
	k := devCluster(t)
	start := time.Now()
	pend := k.spec("cancel-pending", "true")
	pend.Begin = NextWholeHour(start, k.ny)
	pid := k.submit(t, "alice", pend)
	run := k.spec("cancel-running", "sleep", "300")
	rid := k.submit(t, "alice", run)

	k.waitJob(t, pid, "pending", func(j JobStatus) bool { return j.Reason == ReasonBeginTime })
	k.waitJob(t, rid, "running", func(j JobStatus) bool { return j.State == StateRunning })
	if err := k.c.Cancel(context.Background(), "bob", pid); !errors.Is(err, ErrAccessDenied) {
		t.Errorf("bob cancelling alice's job: %v, want ErrAccessDenied", err)
	}
	if err := k.c.Cancel(context.Background(), "alice", pid); err != nil {
		t.Fatal(err)
	}
	if err := k.c.Cancel(context.Background(), "", rid); err != nil {
		t.Fatal(err)
	}
	for _, id := range []JobID{pid, rid} {
		j := k.waitJob(t, id, "cancelled", func(j JobStatus) bool { return j.State.Terminal() })
		if j.State != StateCancelled {
			t.Errorf("job %s = %+v", id, j)
		}
	}
	rp, rr := k.waitAcct(t, pid, start), k.waitAcct(t, rid, start)
	alice, err := user.Lookup("alice")
	if err != nil {
		t.Fatal(err)
	}
	// Slurm gives a job cancelled while pending Start = End = the cancel time
	// (or None), and no elapsed time.
	if rp.State != StateCancelled || rp.CancelledBy != alice.Uid || rp.Elapsed != 0 || rp.Comment != pend.Comment {
		t.Errorf("pending record = %+v; want CANCELLED by %s, no elapsed time", rp, alice.Uid)
	}
	if rr.State != StateCancelled || rr.CancelledBy != "0" || rr.Start.IsZero() {
		t.Errorf("running record = %+v; want CANCELLED by 0 with a start", rr)
	}
	if err := k.c.Cancel(context.Background(), "", "999999999"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("cancel unknown job: %v, want ErrJobNotFound", err)
	}
}

func TestIntegrationRefusalsAreTyped(t *testing.T) {
	k := devCluster(t)
	tests := []struct {
		name    string
		mod     func(*JobSpec)
		script  string // raw script instead of a rendered one
		message string
	}{
		{name: "account", mod: func(s *JobSpec) { s.Account = "nosuch" }, message: "Invalid account"},
		{name: "partition", mod: func(s *JobSpec) { s.Partition = "nosuch" }, message: "Invalid partition name specified"},
		{name: "gres", mod: func(s *JobSpec) { s.GPUs = 5 }, message: "Requested node configuration is not available"},
		{name: "time", script: "#!/bin/bash\n#SBATCH --time=soon\ntrue\n", message: "Invalid --time specification"},
		{name: "begin", script: "#!/bin/bash\n#SBATCH --begin=garbage\ntrue\n", message: "Invalid --begin specification"},
	}
	for _, tt := range tests {
		script := []byte(tt.script)
		if tt.mod != nil {
			spec := k.spec("refused-"+tt.name, "true")
			tt.mod(&spec)
			var err error
			if script, err = k.c.Render(spec); err != nil {
				t.Fatal(err)
			}
		}
		id, err := k.c.Submit(context.Background(), "alice", script)
		if tt.name == "account" && err == nil && !enforcesAssociations(t) {
			t.Log("the cluster does not enforce associations (AccountingStorageEnforce): unknown accounts are accepted")
			_ = k.c.Cancel(context.Background(), "", id)
			continue
		}
		var rej *RejectedError
		if !errors.As(err, &rej) || !strings.Contains(rej.Message, tt.message) {
			t.Errorf("%s: Submit = %q, %v; want *RejectedError with %q", tt.name, id, err, tt.message)
		}
	}
}

// enforcesAssociations reports whether slurmctld refuses unknown accounts.
func enforcesAssociations(t *testing.T) bool {
	out, err := exec.Command("scontrol", "show", "config").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "AccountingStorageEnforce" {
			return strings.Contains(v, "associations")
		}
	}
	return false
}

// The script shown to users is the job: submitted by hand as its header says
// (TZ=UTC sbatch FILE), it gives the same job as Submit.
func TestIntegrationHandSubmissionGivesTheSameJob(t *testing.T) {
	k := devCluster(t)
	spec := k.spec("by-hand", "true")
	spec.Begin = NextWholeHour(time.Now(), k.ny)
	spec.GPUs, spec.CPUsPerTask, spec.MemoryMB = 2, 2, 1000
	script, err := k.c.Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(k.dir, k.tag+"-job.sh") // a file alice can read
	if err := os.WriteFile(file, script, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(file) })
	gw, err := k.c.Submit(context.Background(), "alice", script)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.c.Cancel(context.Background(), "", gw) })
	cmd := exec.Command("runuser", "-u", "alice", "--", "env", "TZ=UTC", "SLURM_CONF="+os.Getenv("SLURM_CONF"),
		"sbatch", "--parsable", file)
	cmd.Dir = "/"
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("sbatch by hand: %v: %s", err, ee.Stderr)
		}
		t.Fatalf("sbatch by hand: %v", err)
	}
	hand := JobID(strings.TrimSpace(string(out)))
	t.Cleanup(func() { _ = k.c.Cancel(context.Background(), "", hand) })

	a := k.waitJob(t, gw, "pending", func(j JobStatus) bool { return j.Reason == ReasonBeginTime })
	b := k.waitJob(t, hand, "pending", func(j JobStatus) bool { return j.Reason == ReasonBeginTime })
	a.ID, b.ID, a.Submit, b.Submit = "", "", time.Time{}, time.Time{}
	if a != b {
		t.Errorf("jobs differ:\ngateway %+v\nby hand %+v", a, b)
	}
	if !a.Eligible.Equal(spec.Begin) || a.GPUs != 2 || a.CPUs != 2 || a.TimeLimit != 10*time.Minute {
		t.Errorf("job = %+v", a)
	}
}

// --export=NONE: the job sees the user's login environment and the spec's
// variables, never the gateway's.
func TestIntegrationJobEnvironment(t *testing.T) {
	k := devCluster(t)
	t.Setenv("BATCHGATE_SECRET_PROBE", "must-not-leak")
	spec := k.spec("env", "env")
	spec.Env = []EnvVar{{"BG_VAR", "it's here"}}
	id := k.submit(t, "alice", spec)
	k.waitJob(t, id, "ended", func(j JobStatus) bool { return j.State.Terminal() })
	out, err := os.ReadFile(filepath.Join(k.dir, k.tag+"-env-"+string(id)+".out"))
	if err != nil {
		t.Fatal(err)
	}
	env := string(out)
	for _, want := range []string{"BG_VAR=it's here\n", "USER=alice\n", "HOME=", "SLURM_JOB_ID=" + string(id)} {
		if !strings.Contains(env, want) {
			t.Errorf("job env lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "must-not-leak") {
		t.Errorf("the gateway's environment leaked into the job:\n%s", env)
	}
}
