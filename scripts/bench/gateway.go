package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/config"
	"batchgate/gateway/daemon"
	"batchgate/gateway/sqlite"
)

// bench holds the run: the in-process gateway, the figures so far, and every Slurm job it
// submitted (cancelled by cleanup).
type bench struct {
	opts    options
	dir     string
	log     *slog.Logger
	gw      *gw
	mu      sync.Mutex
	figures []Figure
	jobs    map[string]bool
}

func (b *bench) add(f ...Figure) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.figures = append(b.figures, f...)
}

// track records a job id to cancel at the end.
func (b *bench) track(id string) {
	if id == "" {
		return
	}
	b.mu.Lock()
	b.jobs[id] = true
	b.mu.Unlock()
}

// cleanup cancels every job the bench submitted, directly or through the gateway (the gateway's
// own tasks are included, so a start that answered an error but submitted is not missed), then
// stops the gateway. It is safe to call twice.
func (b *bench) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if b.gw != nil {
		// Stop the gateway first: its reconciler retries starts that failed, submitting jobs.
		b.gw.halt()
		if tasks, err := b.gw.d.Store().UnsettledTasks(ctx); err == nil {
			b.trackByComment(ctx, tasks)
		} else {
			b.log.Error("list the gateway's tasks for cleanup", "err", err)
		}
	}
	b.mu.Lock()
	ids := make([]string, 0, len(b.jobs))
	for id := range b.jobs {
		ids = append(ids, id)
	}
	b.jobs = map[string]bool{}
	b.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), 200)
		if err := scancel(ctx, ids[:n]); err != nil {
			b.log.Error("some bench jobs could not be cancelled: cancel them by hand", "err", err,
				"command", "scancel "+strings.Join(ids, " "))
			break
		}
		ids = ids[n:]
	}
	if b.gw != nil {
		b.gw.close()
		b.gw = nil
	}
}

// scancel cancels ids, waiting out a controller that cannot be reached (the dev cluster is shared:
// a fault test may have stopped slurmctld) until ctx ends. Jobs that already ended are no error.
func scancel(ctx context.Context, ids []string) error {
	for {
		out, err := command(ctx, nil, "scancel", ids...)
		if err == nil || !strings.Contains(string(out), "Unable to contact slurm controller") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", err, tail(out, 300))
		case <-time.After(5 * time.Second):
		}
	}
}

// trackByComment tracks the jobs of tasks, by the job id the gateway recorded and by the task id
// each job carries as its comment: a start that failed after sbatch leaves a job the gateway's
// database may not name.
func (b *bench) trackByComment(ctx context.Context, tasks []*gateway.Task) {
	ids := map[string]bool{}
	for _, t := range tasks {
		b.track(t.JobID)
		ids[t.ID] = true
	}
	var out []byte
	for {
		var err error
		if out, err = command(ctx, nil, "squeue", "-h", "--all", "-o", "%i|%k"); err == nil {
			break
		}
		b.log.Warn("squeue for cleanup, retrying in 5 s", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
	for _, line := range strings.Split(string(out), "\n") {
		if id, comment, ok := strings.Cut(line, "|"); ok && ids[comment] {
			b.track(id)
		}
	}
}

// gw is the real gateway, in process (as integration/harness_test.go starts it), with the demo
// identities of the integration tests and one HTTP client that keeps connections alive.
type gw struct {
	url    string
	d      *daemon.Daemon
	tokens map[string]string
	client *http.Client
	stop   context.CancelFunc
	done   chan error
	// logFile holds the gateway's warnings and errors.
	logFile *os.File
}

// gatewayFlags are the configuration the bench's gateways run with: the dev cluster's environment
// plus a database, a listen address, and the CI apptainer stand-in when present (no job runs).
func gatewayFlags(db, listen string) map[string]string {
	flags := map[string]string{"listen": listen, "database": db}
	if p := filepath.Join(os.Getenv("BATCHGATE_DEV_DIR"), "bin", "apptainer-standin"); fileExists(p) {
		flags["images.apptainer"] = p
	}
	return flags
}

// startGateway starts the gateway in process; its warnings and errors go to logFile.
func startGateway(ctx context.Context, dir, logFile string) (*gw, error) {
	if err := ensureImage(ctx); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db := filepath.Join(dir, "batchgate.db")
	cfg, err := config.Load(config.Sources{Env: os.Environ(), Flags: gatewayFlags(db, "127.0.0.1:0")})
	if err != nil {
		return nil, err
	}
	lf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	d, err := daemon.New(runCtx, cfg, slog.New(slog.NewTextHandler(lf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		stop()
		lf.Close()
		return nil, err
	}
	g := &gw{url: "http://" + d.Addr(), d: d, stop: stop, done: make(chan error, 1), client: keepAliveClient(1024), logFile: lf}
	go func() { g.done <- d.Run(runCtx) }()
	if g.tokens, err = seedIdentities(ctx, d.Store()); err != nil {
		g.close()
		return nil, err
	}
	return g, nil
}

// halt stops serving and the reconciler (the store stays open); it may be called again.
func (g *gw) halt() {
	g.stop()
	if g.done != nil {
		if err := <-g.done; err != nil {
			fmt.Fprintln(os.Stderr, "bench: gateway run:", err)
		}
		g.done = nil
	}
}

func (g *gw) close() {
	g.halt()
	g.d.Close()
	g.logFile.Close()
}

// firstLogError is the first error line the gateway logged, or "".
func (g *gw) firstLogError() string {
	b, err := os.ReadFile(g.logFile.Name())
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "level=ERROR") {
			return line
		}
	}
	return ""
}

func keepAliveClient(conns int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns,
		IdleConnTimeout: time.Minute}}
}

// seedIdentities creates what the integration harness creates: projects vision (alice, bob) and
// speech (carol, admin), site admin root, and a token for each user.
func seedIdentities(ctx context.Context, db *sqlite.DB) (map[string]string, error) {
	now := time.Now().UTC()
	tokens := map[string]string{}
	for _, p := range []string{"vision", "speech"} {
		if err := db.AddProject(ctx, gateway.Project{Name: p, CreatedAt: now}); err != nil {
			return nil, err
		}
	}
	for _, u := range []string{"alice", "bob", "carol", "root"} {
		if err := db.AddUser(ctx, gateway.User{Name: u, SiteAdmin: u == "root", CreatedAt: now}); err != nil {
			return nil, err
		}
		token, hash := gateway.NewToken()
		if _, err := db.CreateToken(ctx, u, "bench", hash, nil); err != nil {
			return nil, err
		}
		tokens[u] = token
	}
	for _, m := range []struct {
		project, user string
		role          gateway.Role
	}{{"vision", "alice", gateway.RoleMember}, {"vision", "bob", gateway.RoleMember}, {"speech", "carol", gateway.RoleAdmin}} {
		if err := db.AddMember(ctx, m.project, m.user, m.role); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// seedContainers inserts n Inactive containers of alice in vision directly through the store.
func seedContainers(ctx context.Context, db *sqlite.DB, n int) error {
	base := time.Now().UTC()
	for i := range n {
		var r [5]byte
		_, _ = rand.Read(r[:])
		at := base.Add(time.Duration(i) * time.Microsecond)
		c := &gateway.Container{ID: fmt.Sprintf("ctr_%013x%s", at.UnixMicro(), hex.EncodeToString(r[:])),
			Project: "vision", Owner: "alice", Name: fmt.Sprintf("seed-%05d", i), Image: "busybox", Flavor: "gpu-1",
			Command: "python train.py --epochs 10", Env: []gateway.EnvVar{{Name: "MODEL", Value: "resnet50"}},
			Schedule: gateway.Schedule{Kind: gateway.ScheduleManual}, State: gateway.Inactive, CreatedAt: at, UpdatedAt: at}
		if err := db.CreateContainer(ctx, c, ""); err != nil {
			return fmt.Errorf("seed container %d: %w", i, err)
		}
	}
	return nil
}

// call makes an API request as user and decodes a JSON answer into out (when not nil; a *string
// gets the body as is). A status outside 2xx is an error carrying the body.
func (g *gw) call(ctx context.Context, user, method, path string, body, out any) error {
	status, raw, err := roundTrip(ctx, g.client, method, g.url+path, body,
		map[string]string{"Authorization": "Bearer " + g.tokens[user]})
	if err != nil {
		return err
	}
	if status/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, status, bytes.TrimSpace(raw))
	}
	if out == nil {
		return nil
	}
	if s, ok := out.(*string); ok {
		*s = string(raw)
		return nil
	}
	return json.Unmarshal(raw, out)
}

// roundTrip sends one request (body as JSON when not nil, with headers) and returns the status
// and the whole answer: the part the gateway's and slurmrestd's clients share.
func roundTrip(ctx context.Context, client *http.Client, method, url string, body any, headers map[string]string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// metricsSnapshot reads the gateway's /metrics: batchgate_slurm_calls_total by command, and the
// reconciler's passes under "ticks".
func metricsSnapshot(ctx context.Context, client *http.Client, base string) (map[string]int64, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	m := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		var key string
		switch {
		case strings.HasPrefix(line, "batchgate_slurm_calls_total{command=\""):
			key, _, _ = strings.Cut(strings.TrimPrefix(line, "batchgate_slurm_calls_total{command=\""), "\"")
		case strings.HasPrefix(line, "batchgate_reconcile_ticks_total "):
			key = "ticks"
		default:
			continue
		}
		n, err := strconv.ParseInt(line[strings.LastIndexByte(line, ' ')+1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		m[key] = n
	}
	return m, sc.Err()
}

// slurmCalls is the total of batchgate_slurm_calls_total over all commands.
func slurmCalls(ctx context.Context, client *http.Client, base string) (int64, error) {
	m, err := metricsSnapshot(ctx, client, base)
	var total int64
	for k, n := range m {
		if k != "ticks" {
			total += n
		}
	}
	return total, err
}

// ensureImage makes the demo image the integration tests use, when the site catalog lacks it.
func ensureImage(ctx context.Context) error {
	image := filepath.Join(os.Getenv("BATCHGATE_HFS_ROOT"), "images", "busybox.sif")
	if fileExists(image) {
		return nil
	}
	out, err := command(ctx, nil, "go", "run", "batchgate/scripts/mkimage", "-o", image)
	if err != nil {
		return fmt.Errorf("make the demo image: %w: %s", err, out)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// command runs name with args (stdin when not nil) under its own timeout and returns its
// combined output.
func command(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}
