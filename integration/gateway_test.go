package integration

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startGateway starts the real gateway in-process on a free port with the dev cluster's
// configuration plus flags, and stops it when the test ends. It returns the base URL.
func startGateway(t *testing.T, flags map[string]string) string {
	t.Helper()
	return "http://" + runDaemon(t, flags).Addr()
}

type readiness struct {
	Status  string   `json:"status"`
	Failing []string `json:"failing"`
	Checks  map[string]struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"checks"`
}

func getReadiness(t *testing.T, url string) (int, readiness) {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("readyz body: %v", err)
	}
	return resp.StatusCode, r
}

func TestReadyzOnTheDevCluster(t *testing.T) {
	requireCluster(t)
	status, r := getReadiness(t, startGateway(t, nil))
	if status != http.StatusOK || r.Status != "ready" {
		t.Fatalf("readyz = %d %+v, want 200 ready", status, r)
	}
	for _, name := range []string{"database", "slurm", "cos"} {
		if !r.Checks[name].OK {
			t.Errorf("check %s not ok: %+v", name, r.Checks[name])
		}
	}
}

func TestReadyzNamesTheFailingCOS(t *testing.T) {
	requireCluster(t)
	// A port nobody listens on: the gateway sees COS as unreachable, exactly as when MinIO is stopped.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	status, r := getReadiness(t, startGateway(t, map[string]string{"cos.endpoint": closed}))
	if status != http.StatusServiceUnavailable || !slices.Equal(r.Failing, []string{"cos"}) {
		t.Fatalf("readyz = %d failing=%v, want 503 naming only cos", status, r.Failing)
	}
	if r.Checks["cos"].Error == "" {
		t.Error("the failing cos check carries no error text")
	}
}

// TestMissingBucketIsCreatedAtStartUp: the gateway makes its bucket, and /readyz turns ready.
func TestMissingBucketIsCreatedAtStartUp(t *testing.T) {
	requireCluster(t)
	url := startGateway(t, map[string]string{"cos.bucket": "batchgate-created-" + strconv.Itoa(os.Getpid())})
	eventually(t, 10*time.Second, "readyz to turn ready once the bucket exists", func() bool {
		status, _ := getReadiness(t, url)
		return status == http.StatusOK
	})
}

// TestServeShutsDownOnSIGTERM runs the real binary and checks that SIGTERM ends it cleanly.
func TestServeShutsDownOnSIGTERM(t *testing.T) {
	requireCluster(t)
	bin := filepath.Join(t.TempDir(), "batchgate")
	build := exec.Command("go", "build", "-o", bin, "batchgate/gateway/cmd/batchgate")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--database", filepath.Join(t.TempDir(), "db.sqlite"))
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "healthz", func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		t.Fatal("serve did not exit within 15 s of SIGTERM")
	}
}
