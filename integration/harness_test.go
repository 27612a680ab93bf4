package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/config"
	"batchgate/gateway/daemon"
)

// devGateway is the real gateway, in process, on the dev cluster, with demo identities.
type devGateway struct {
	URL    string
	d      *daemon.Daemon
	tokens map[string]string // user -> bearer token
}

var (
	setupOnce sync.Once
	setupErr  error
	standIn   string // the CI stand-in for apptainer, where job users can run it
)

// prepareDevCluster makes what every gateway test needs once: the demo image in the site catalog
// and the apptainer stand-in in a place the demo users can execute (the checkout itself may sit
// in a directory they cannot enter).
func prepareDevCluster(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() {
		dev := os.Getenv("BATCHGATE_DEV_DIR")
		image := filepath.Join(os.Getenv("BATCHGATE_HFS_ROOT"), "images", "busybox.sif")
		if _, err := os.Stat(image); err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			if out, err := exec.CommandContext(ctx, "go", "run", "batchgate/scripts/mkimage", "-o", image).CombinedOutput(); err != nil {
				setupErr = &exec.ExitError{Stderr: out}
				return
			}
		}
		body, err := os.ReadFile("testdata/bin/apptainer")
		if err != nil {
			setupErr = err
			return
		}
		standIn = filepath.Join(dev, "bin", "apptainer-standin")
		if err := os.MkdirAll(filepath.Dir(standIn), 0o755); err != nil {
			setupErr = err
			return
		}
		setupErr = os.WriteFile(standIn, body, 0o755)
	})
	if setupErr != nil {
		t.Fatalf("prepare the dev cluster for gateway tests: %v", setupErr)
	}
}

// runDaemon starts the real gateway in-process on a free port, with its own database, the dev
// cluster's configuration (from the environment) and flags, and stops it when the test ends.
func runDaemon(t *testing.T, flags map[string]string) *daemon.Daemon {
	t.Helper()
	all := map[string]string{"listen": "127.0.0.1:0", "database": filepath.Join(t.TempDir(), "batchgate.db")}
	for k, v := range flags {
		all[k] = v
	}
	cfg, err := config.Load(config.Sources{Env: os.Environ(), Flags: all})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway run: %v", err)
		}
		d.Close()
	})
	return d
}

// startDevGateway starts the gateway with the dev cluster's configuration (plus flags), creates
// projects vision (alice, bob: members) and speech (carol: admin) and a site admin "root", and
// returns tokens for each.
func startDevGateway(t *testing.T, flags map[string]string) *devGateway {
	t.Helper()
	requireCluster(t)
	prepareDevCluster(t)
	// Tests want figures within seconds: poll and ingest often, and backfill only the last hours.
	all := map[string]string{"images.apptainer": standIn, "cluster.poll_interval": "1s",
		"usage.ingest_interval": "2s", "usage.backfill": "6h"}
	for k, v := range flags {
		all[k] = v
	}
	d := runDaemon(t, all)
	g := &devGateway{URL: "http://" + d.Addr(), d: d, tokens: map[string]string{}}
	g.seed(t)
	return g
}

func (g *devGateway) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	db := g.d.Store()
	now := time.Now().UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"vision", "speech"} {
		must(db.AddProject(ctx, gateway.Project{Name: p, CreatedAt: now}))
	}
	for _, u := range []string{"alice", "bob", "carol", "root"} {
		must(db.AddUser(ctx, gateway.User{Name: u, SiteAdmin: u == "root", CreatedAt: now}))
		token, hash := gateway.NewToken()
		_, err := db.CreateToken(ctx, u, "test", hash, nil)
		must(err)
		g.tokens[u] = token
	}
	must(db.AddMember(ctx, "vision", "alice", gateway.RoleMember))
	must(db.AddMember(ctx, "vision", "bob", gateway.RoleMember))
	must(db.AddMember(ctx, "speech", "carol", gateway.RoleAdmin))
}

// call makes an API request as user ("" = no token) and decodes a JSON answer into out (if not
// nil), failing the test when the request cannot be made.
func (g *devGateway) call(t *testing.T, user, method, path string, body any, out any, headers ...string) int {
	t.Helper()
	status, err := g.request(user, method, path, body, out, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return status
}

// request is call without a test: for load loops, where a refused connection is expected.
func (g *devGateway) request(user, method, path string, body any, out any, headers ...string) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, g.URL+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+g.tokens[user])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %q: %w", raw, err)
		}
	}
	return resp.StatusCode, nil
}
