package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"batchgate/gateway"
)

// jobsWithComment lists the ids of the Slurm jobs (queued or recently ended) carrying comment.
func jobsWithComment(t *testing.T, comment string) []string {
	t.Helper()
	out := run(t, 30*time.Second, "squeue", "-h", "--states=all", "-o", "%i|%k")
	var ids []string
	for _, line := range strings.Split(out, "\n") {
		id, c, ok := strings.Cut(line, "|")
		if ok && c == comment {
			ids = append(ids, id)
		}
	}
	return ids
}

// TestConcurrentCreateAndStart: 200 clients create and start a container each, at once. Every
// start yields exactly one job, carrying its task's id; nothing is lost or doubled.
func TestConcurrentCreateAndStart(t *testing.T) {
	g := startDevGateway(t, nil)
	hour := gateway.NextWholeHour(time.Now(), time.UTC).Add(time.Hour) // pending: nothing runs
	const n = 200
	tasks := make([]apiTask, n)
	containers := make([]apiContainer, n)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			st := g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
				"project": "vision", "name": fmt.Sprintf("burst-%03d", i), "image": "busybox", "flavor": "gpu-1",
				"command": "true", "schedule": map[string]string{"kind": "at", "at": hour.Format(time.RFC3339)},
			}, &containers[i], "Idempotency-Key", "burst-create-"+strconv.Itoa(i))
			if st != http.StatusCreated {
				errs <- fmt.Sprintf("create %d: %d", i, st)
				return
			}
			if st := g.call(t, "alice", "POST", "/api/v1/containers/"+containers[i].ID+"/start", nil, &tasks[i]); st != http.StatusAccepted {
				errs <- fmt.Sprintf("start %d: %d", i, st)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	t.Cleanup(func() {
		for _, c := range containers {
			if c.ID != "" {
				g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/stop", nil, nil)
			}
		}
	})
	out := run(t, 30*time.Second, "squeue", "-h", "--states=all", "-o", "%k")
	count := map[string]int{}
	for _, c := range strings.Fields(out) {
		count[c]++
	}
	jobs := map[string]bool{}
	for i, task := range tasks {
		if task.JobID == "" || count[task.ID] != 1 {
			t.Errorf("task %d (%s): job %q, %d jobs carry its id; want exactly one", i, task.ID, task.JobID, count[task.ID])
		}
		if jobs[task.JobID] {
			t.Errorf("job %s given to two tasks", task.JobID)
		}
		jobs[task.JobID] = true
	}
}

// stopSlurmctld stops the dev cluster's controller and arranges for the cluster to be brought
// back (scripts/devcluster up) when the test ends, whatever happens.
func stopSlurmctld(t *testing.T) (restart func()) {
	t.Helper()
	return stopDaemon(t, "slurm/run/slurmctld.pid")
}

// requireFaults runs a test that stops part of the shared dev cluster only when asked to
// (BATCHGATE_FAULTS=1): `make test` runs these alone, after every other test, so that no other
// package's tests see the outage.
func requireFaults(t *testing.T) {
	t.Helper()
	requireCluster(t)
	if os.Getenv("BATCHGATE_FAULTS") != "1" {
		t.Skip("stops part of the dev cluster: runs in make test's fault phase (BATCHGATE_FAULTS=1)")
	}
}

// TestFaultSlurmctldDownDuringStart: the start is accepted and waits (SUBMITTING, with the
// reason); when the controller is back the task is submitted, once.
func TestFaultSlurmctldDownDuringStart(t *testing.T) {
	requireFaults(t)
	g := startDevGateway(t, map[string]string{"cluster.command_timeout": "5s"})
	var c apiContainer
	g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "outage", "image": "busybox", "flavor": "gpu-1", "command": "echo back",
	}, &c)
	restart := stopSlurmctld(t)
	var task apiTask
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task); st != http.StatusAccepted {
		t.Fatalf("start while slurmctld is down: %d, want 202", st)
	}
	if task.State != "SUBMITTING" || !strings.Contains(task.Reason, "waiting for Slurm") {
		t.Fatalf("task %s %q, want SUBMITTING waiting for Slurm", task.State, task.Reason)
	}
	if got := g.container(t, "alice", c.ID); got.State != "Ready" {
		t.Errorf("container %s while its task waits, want Ready", got.State)
	}
	restart()
	done := g.waitTask(t, "alice", task.ID, 120*time.Second, "the task to be submitted and finish", func(x apiTask) bool {
		return x.Accounted
	})
	if done.State != "COMPLETED" || len(jobsWithComment(t, task.ID)) != 1 {
		t.Fatalf("after the outage: %+v, jobs %v; want COMPLETED by exactly one job", done, jobsWithComment(t, task.ID))
	}
}

// TestGatewayKilledBetweenTaskAndSbatch: the gateway is SIGKILLed after writing the task and while
// sbatch is still on its way; after a restart the job is found by the task id in its comment and
// adopted: exactly one job.
func TestGatewayKilledBetweenTaskAndSbatch(t *testing.T) {
	requireCluster(t)
	prepareDevCluster(t)
	dev := os.Getenv("BATCHGATE_DEV_DIR")
	// A Slurm bin directory whose sbatch takes 3 s before submitting: the window to kill in.
	bin := filepath.Join(dev, "bin-slow-sbatch")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"squeue", "sacct", "scontrol", "scancel"} {
		real, err := exec.LookPath(cmd)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(bin, cmd))
		if err := os.Symlink(real, filepath.Join(bin, cmd)); err != nil {
			t.Fatal(err)
		}
	}
	realSbatch, _ := exec.LookPath("sbatch")
	slow := "#!/bin/sh\n# test double: a slow sbatch, so the gateway can be killed while it runs\nsleep 3\nexec " + realSbatch + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "sbatch"), []byte(slow), 0o755); err != nil {
		t.Fatal(err)
	}
	gw := buildGateway(t)
	db := filepath.Join(t.TempDir(), "batchgate.db")
	flags := []string{"--database", db, "--cluster.slurm_bin", bin, "--images.apptainer", standIn, "--cluster.poll_interval", "1s"}

	// Identity and a container, through the admin CLI and the API of a first gateway process.
	admin := func(args ...string) {
		out, err := exec.Command(gw, append(append([]string{"admin"}, args...), "--database", db)...).CombinedOutput()
		if err != nil {
			t.Fatalf("admin %v: %v\n%s", args, err, out)
		}
	}
	admin("project", "add", "vision")
	admin("user", "add", "alice")
	admin("member", "add", "vision", "alice")
	tokenFile := filepath.Join(t.TempDir(), "alice.token")
	admin("token", "create", "alice", "--out", tokenFile)
	token, _ := os.ReadFile(tokenFile)
	g := &devGateway{tokens: map[string]string{"alice": strings.TrimSpace(string(token))}}

	p1, url := startProcess(t, gw, flags)
	g.URL = url
	var c apiContainer
	g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "crash", "image": "busybox", "flavor": "gpu-1", "command": "echo once",
	}, &c)
	started := make(chan apiTask, 1)
	go func() {
		var task apiTask
		// The request dies with the gateway; its answer is lost, as a client's would be.
		req, _ := http.NewRequest("POST", g.URL+"/api/v1/containers/"+c.ID+"/start", nil)
		req.Header.Set("Authorization", "Bearer "+g.tokens["alice"])
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		started <- task
	}()
	// Wait until the task row exists (the container is Ready), then kill the gateway mid-sbatch.
	eventually(t, 10*time.Second, "the task to be recorded", func() bool {
		return g.container(t, "alice", c.ID).State == "Ready"
	})
	if err := p1.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p1.Wait()
	<-started

	_, g.URL = startProcess(t, gw, flags)
	ctr := g.container(t, "alice", c.ID)
	done := g.waitTask(t, "alice", ctr.CurrentTask, 120*time.Second, "the task to finish after the restart", func(x apiTask) bool {
		return x.Accounted
	})
	if jobs := jobsWithComment(t, ctr.CurrentTask); len(jobs) != 1 || done.JobID != jobs[0] || done.State != "COMPLETED" {
		t.Fatalf("after the crash: task %+v, jobs with its id %v; want exactly one, adopted", done, jobs)
	}
}

var buildOnce sync.Once
var builtGateway string

// buildGateway builds the batchgate binary once per test run.
func buildGateway(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "batchgate-bin-")
		if err != nil {
			t.Fatal(err)
		}
		builtGateway = filepath.Join(dir, "batchgate")
		if out, err := exec.Command("go", "build", "-o", builtGateway, "batchgate/gateway/cmd/batchgate").CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	})
	return builtGateway
}

// startProcess runs `batchgate serve` on a free port with the dev cluster's environment, waits for
// /healthz, and kills it when the test ends.
func startProcess(t *testing.T, bin string, flags []string) (*exec.Cmd, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr}, flags...)...)
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	url := "http://" + addr
	eventually(t, 15*time.Second, "healthz", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return cmd, url
}

// TestUnwritableLogDirectoryFailsTheTaskClearly: when the log directory cannot be made as the
// user, the task fails at once with the reason, and nothing is submitted.
func TestUnwritableLogDirectoryFailsTheTaskClearly(t *testing.T) {
	requireCluster(t)
	// Work directories under a root-owned parent: the users cannot create theirs there.
	parent := filepath.Join(os.Getenv("BATCHGATE_DEV_DIR"), "unwritable-work")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	g := startDevGateway(t, map[string]string{"hfs.work": parent + "/{user}"})
	var c apiContainer
	g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "nolog", "image": "busybox", "flavor": "gpu-1", "command": "true",
	}, &c)
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &p); st != http.StatusUnprocessableEntity ||
		!strings.Contains(p.Title, "log directory") || !strings.Contains(p.Title, "Permission denied") {
		t.Fatalf("start: %d %+v, want 422 naming the log directory and why", st, p)
	}
	ctr := g.container(t, "alice", c.ID)
	var task apiTask
	g.call(t, "alice", "GET", "/api/v1/tasks/"+ctr.CurrentTask, nil, &task)
	if ctr.State != "Inactive" || task.State != "FAILED" || task.JobID != "" || !strings.Contains(task.Reason, "log directory") {
		t.Fatalf("container %s, task %+v: want Inactive, FAILED with the reason, no job", ctr.State, task)
	}
}
