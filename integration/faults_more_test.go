package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// stopDaemon stops one dev-cluster daemon by its pid file (relative to BATCHGATE_DEV_DIR) and
// makes sure the cluster is brought back when the test ends. It returns the restart.
func stopDaemon(t *testing.T, pidFile string) (restart func()) {
	t.Helper()
	path := filepath.Join(os.Getenv("BATCHGATE_DEV_DIR"), pidFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, pidFile+" to stop", func() bool {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || strings.Contains(string(st), ") Z ")
	})
	var once sync.Once
	restart = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if out, err := exec.CommandContext(ctx, "../scripts/devcluster", "up").CombinedOutput(); err != nil {
				t.Errorf("bring the cluster back: %v\n%s", err, out)
			}
		})
	}
	t.Cleanup(restart)
	return restart
}

// TestFaultSlurmdbdDownUsageCatchesUp: while slurmdbd is down jobs still run but accounting lags;
// when it is back the ledger catches up and equals sacct exactly.
func TestFaultSlurmdbdDownUsageCatchesUp(t *testing.T) {
	requireFaults(t)
	g := startDevGateway(t, nil)
	restart := stopDaemon(t, "slurm/run/slurmdbd.pid")
	work := filepath.Join(os.Getenv("BATCHGATE_HFS_ROOT"), "work", "alice")
	jobID := run(t, 30*time.Second, "runuser", "-u", "alice", "--", "sbatch", "--parsable", "--account=vision",
		"--gres=gpu:2", "--chdir="+work, "--output=/dev/null", "--job-name=dbd-outage", "--wrap", "sleep 3")
	jobID, _, _ = strings.Cut(jobID, ";")
	eventually(t, 60*time.Second, "the job to finish while slurmdbd is down", func() bool {
		out, _ := exec.Command("squeue", "-h", "-j", jobID, "-o", "%T").Output()
		return len(bytes.TrimSpace(out)) == 0 || strings.Contains(string(out), "COMPLETED")
	})
	time.Sleep(3 * time.Second) // ingestion ticks every 2 s in tests: it tries, and fails, meanwhile
	if _, err := g.d.Store().UsageJob(context.Background(), "batchgate", jobID); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("the ledger has job %s while slurmdbd is down: %v", jobID, err)
	}
	restart()
	// Right after slurmdbd returns, sacct itself is still receiving the job's end: wait until it
	// says the job has ended, then until the ledger says exactly the same.
	var rec gateway.UsageRecord
	var elapsed, cpus int64
	eventually(t, 120*time.Second, "the ledger to catch up with sacct", func() bool {
		out, err := exec.Command("sacct", "-j", jobID, "-X", "-P", "-n", "--format=ElapsedRaw,AllocCPUS,End,State").Output()
		f := strings.Split(strings.TrimSpace(string(out)), "|")
		if err != nil || len(f) != 4 || f[2] == "Unknown" || f[3] != "COMPLETED" {
			return false
		}
		elapsed, _ = strconv.ParseInt(f[0], 10, 64)
		cpus, _ = strconv.ParseInt(f[1], 10, 64)
		r, err := g.d.Store().UsageJob(context.Background(), "batchgate", jobID)
		rec = r
		return err == nil && !r.EndAt.IsZero() && r.ElapsedSec == elapsed
	})
	if rec.State != gateway.TaskCompleted || rec.GPUSeconds != 2*elapsed || rec.CPUSeconds != cpus*elapsed {
		t.Fatalf("ledger %+v, sacct elapsed %d cpus %d: want equal figures", rec, elapsed, cpus)
	}
}

// TestFaultMinIODownLogsCatchUp: COS goes away while a task writes its log; the backlog waits on
// HFS and the sealed log is byte-equal to the file once COS is back.
func TestFaultMinIODownLogsCatchUp(t *testing.T) {
	requireFaults(t)
	g := startDevGateway(t, nil)
	var c apiContainer
	g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "cos-outage", "image": "busybox", "flavor": "cpu-4",
		"command": `i=1; while [ $i -le 60 ]; do echo "line $i of a log that must survive"; i=$((i+1)); sleep 0.25; done`,
	}, &c)
	var task apiTask
	g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task)
	g.waitTask(t, "alice", task.ID, 60*time.Second, "the task to run", func(x apiTask) bool { return x.State == "RUNNING" })
	restart := stopDaemon(t, "minio/minio.pid")
	time.Sleep(10 * time.Second)
	restart()
	done := g.waitTask(t, "alice", task.ID, 120*time.Second, "the log to be sealed after the outage", func(x apiTask) bool {
		return x.LogSealed
	})
	file, err := os.ReadFile(done.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	var dl struct{ URL string }
	if st := g.call(t, "alice", "GET", "/api/v1/tasks/"+task.ID+"/log/download", nil, &dl); st != http.StatusOK {
		t.Fatalf("download: %d", st)
	}
	resp, err := http.Get(dl.URL)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(sealed, file) || strings.Count(string(file), "\n") != 60 {
		t.Fatalf("sealed log (%d bytes) differs from the file (%d bytes, %d lines)", len(sealed), len(file), strings.Count(string(file), "\n"))
	}
}

// TestFaultGatewayKilledUnderLoad: clients create and start containers; the gateway is SIGKILLed
// mid-stream and restarted. Every accepted create exists; every accepted start ends with exactly
// one job; no task is left without one.
func TestFaultGatewayKilledUnderLoad(t *testing.T) {
	requireFaults(t)
	prepareDevCluster(t)
	gw := buildGateway(t)
	db := filepath.Join(t.TempDir(), "batchgate.db")
	flags := []string{"--database", db, "--images.apptainer", standIn, "--cluster.poll_interval", "1s"}
	for _, args := range [][]string{{"project", "add", "vision"}, {"user", "add", "alice"}, {"member", "add", "vision", "alice"}} {
		if out, err := exec.Command(gw, append(append([]string{"admin"}, args...), "--database", db)...).CombinedOutput(); err != nil {
			t.Fatalf("admin %v: %v\n%s", args, err, out)
		}
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if out, err := exec.Command(gw, "admin", "token", "create", "alice", "--out", tokenFile, "--database", db).CombinedOutput(); err != nil {
		t.Fatalf("token: %v\n%s", err, out)
	}
	token, _ := os.ReadFile(tokenFile)
	g := &devGateway{tokens: map[string]string{"alice": strings.TrimSpace(string(token))}}
	p1, url := startProcess(t, gw, flags)
	g.URL = url
	hour := gateway.NextWholeHour(time.Now(), time.UTC).Add(time.Hour) // nothing runs

	var mu sync.Mutex
	created := map[string]bool{} // container ids the gateway answered 201 for
	started := map[string]bool{} // task ids it answered 202 for
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 20 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var c apiContainer
				st := g.callNoFail("alice", "POST", "/api/v1/containers", map[string]any{
					"project": "vision", "name": fmt.Sprintf("load-%02d-%04d", w, i), "image": "busybox", "flavor": "gpu-1",
					"command": "true", "schedule": map[string]string{"kind": "at", "at": hour.Format(time.RFC3339)},
				}, &c)
				if st != http.StatusCreated {
					continue
				}
				mu.Lock()
				created[c.ID] = true
				mu.Unlock()
				var task apiTask
				if g.callNoFail("alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task) == http.StatusAccepted {
					mu.Lock()
					started[task.ID] = true
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(3 * time.Second)
	p1.Process.Signal(syscall.SIGKILL)
	p1.Wait()
	close(stop)
	wg.Wait()
	if len(started) == 0 {
		t.Fatal("no start was accepted before the kill: the load did not run")
	}

	_, g.URL = startProcess(t, gw, flags)
	var list struct {
		Items      []apiContainer `json:"items"`
		NextCursor string         `json:"next_cursor"`
	}
	all := map[string]apiContainer{}
	for cursor := ""; ; cursor = list.NextCursor {
		list.Items, list.NextCursor = nil, ""
		g.call(t, "alice", "GET", "/api/v1/containers?limit=500&cursor="+cursor, nil, &list)
		for _, c := range list.Items {
			all[c.ID] = c
		}
		if list.NextCursor == "" {
			break
		}
	}
	t.Cleanup(func() {
		for id, c := range all {
			if c.State != "Inactive" {
				g.callNoFail("alice", "POST", "/api/v1/containers/"+id+"/stop", nil, nil)
			}
		}
	})
	for id := range created {
		if _, ok := all[id]; !ok {
			t.Errorf("container %s was created (201) but is gone after the restart", id)
		}
	}
	// Every task that exists ends up with exactly one job: the accepted ones, and those whose
	// answer the kill swallowed.
	for _, c := range all {
		if c.CurrentTask == "" {
			continue
		}
		task := g.waitTask(t, "alice", c.CurrentTask, 60*time.Second, "task "+c.CurrentTask+" to reach Slurm", func(x apiTask) bool {
			return x.JobID != ""
		})
		if jobs := jobsWithComment(t, task.ID); len(jobs) != 1 || jobs[0] != task.JobID {
			t.Errorf("task %s: job %s, jobs carrying its id %v; want exactly one", task.ID, task.JobID, jobs)
		}
		delete(started, task.ID)
	}
	for id := range started {
		t.Errorf("task %s was accepted (202) but no container has it", id)
	}
}

// callNoFail is call for load loops: a failed connection (the gateway was killed) is status 0.
func (g *devGateway) callNoFail(user, method, path string, body, out any) int {
	status, _ := g.request(user, method, path, body, out)
	return status
}
