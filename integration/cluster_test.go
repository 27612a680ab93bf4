// Package integration holds end-to-end tests against the real dev cluster (scripts/devcluster):
// real Slurm, real MinIO, real SQLite. Nothing here is mocked. `make test` brings the cluster up
// and exports its environment; without it these tests skip (and fail under CI, where a skip would
// hide that nothing ran).
package integration

import (
	"context"
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

// requireCluster skips the test when the dev cluster's environment is absent, or fails it under CI.
func requireCluster(t *testing.T) {
	t.Helper()
	if os.Getenv("SLURM_CONF") == "" || os.Getenv("BATCHGATE_DEV_DIR") == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but the dev cluster's environment is not: run the tests with `make test`")
		}
		t.Skip("dev cluster not configured: run `make test`, or `eval \"$(scripts/devcluster env)\"` first")
	}
}

// run runs a command with a timeout and returns its trimmed stdout, failing the test on error.
func run(t *testing.T, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr)
	}
	return strings.TrimSpace(string(out))
}

// eventually polls cond every 250 ms until it returns true or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestClusterIsReal submits a job as alice with 2 GPUs and checks that it ran as alice, saw two
// GPU devices, and was accounted to project vision with gres/gpu=2.
func TestClusterIsReal(t *testing.T) {
	requireCluster(t)
	alice, err := user.Lookup("alice")
	if err != nil {
		t.Fatalf("demo user alice: %v", err)
	}
	work := filepath.Join(os.Getenv("BATCHGATE_HFS_ROOT"), "work", "alice")
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	out := filepath.Join(work, "cluster-real-"+stamp+".out")
	jobID := run(t, 30*time.Second, "runuser", "-u", "alice", "--", "sbatch", "--parsable",
		"--account=vision", "--gres=gpu:2", "--job-name=cluster-real", "--chdir="+work, "--output="+out,
		"--wrap", `id -un; echo "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"`)
	jobID, _, _ = strings.Cut(jobID, ";")
	t.Cleanup(func() { os.Remove(out) })

	var sacct string
	eventually(t, 60*time.Second, "job "+jobID+" to complete in sacct", func() bool {
		sacct = run(t, 30*time.Second, "sacct", "-j", jobID, "-X", "-P", "-n", "--format=User,Account,State,AllocTRES")
		return strings.Contains(sacct, "|COMPLETED|")
	})
	fields := strings.Split(sacct, "|")
	if fields[0] != "alice" || fields[1] != "vision" {
		t.Errorf("sacct user|account = %s|%s, want alice|vision", fields[0], fields[1])
	}
	if !strings.Contains(","+fields[3]+",", ",gres/gpu=2,") {
		t.Errorf("AllocTRES = %q, want gres/gpu=2", fields[3])
	}

	body, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("job output: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 2 || lines[0] != "alice" {
		t.Fatalf("job output = %q, want alice's id then CUDA_VISIBLE_DEVICES", body)
	}
	devices := strings.Split(strings.TrimPrefix(lines[1], "CUDA_VISIBLE_DEVICES="), ",")
	if len(devices) != 2 || devices[0] == "" {
		t.Errorf("CUDA_VISIBLE_DEVICES line %q, want two devices", lines[1])
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if uid := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)); uid != alice.Uid {
		t.Errorf("output file owned by uid %s, want alice (%s)", uid, alice.Uid)
	}
}
