package main

import (
	"bufio"
	"bytes"
	"context"
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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"batchgate/gateway/sqlite"
)

// listPage seeds the containers through the store and loads GET /api/v1/containers (the first
// page) with concurrent keep-alive clients for 10 s.
func (b *bench) listPage(ctx context.Context) error {
	t0 := time.Now()
	if err := seedContainers(ctx, b.gw.d.Store(), b.opts.containers); err != nil {
		return err
	}
	b.log.Info("seeded containers", "n", b.opts.containers, "took", time.Since(t0).Round(time.Millisecond))
	var page struct {
		Items []apiContainer `json:"items"`
	}
	if err := b.gw.call(ctx, "alice", "GET", "/api/v1/containers", nil, &page); err != nil {
		return err
	}
	const window = 10 * time.Second
	client := newPageClient(b.gw.url, b.opts.listClients)
	var mu sync.Mutex
	var lat durations
	var errs atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(window)
	for range b.opts.listClients {
		wg.Go(func() {
			var mine durations
			for time.Now().Before(end) && ctx.Err() == nil {
				t := time.Now()
				if err := getPage(client, b.gw.url+"/api/v1/containers", b.gw.tokens["alice"]); err != nil {
					errs.Add(1)
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	rps := float64(len(lat)) / time.Since(start).Seconds()
	note := fmt.Sprintf("%d items per page, %d keep-alive clients, %s; load generator (fasthttp's client) in the same process and on the same 2 cores",
		len(page.Items), b.opts.listClients, window)
	b.add(Figure{Group: "api", Name: fmt.Sprintf("list page over %d containers", b.opts.containers), Unit: "req/s", Value: rps, Note: note}.
		check("≥ 5000 req/s", rps >= 5000),
		Figure{Group: "api", Name: "list page p99", Unit: "ms", Value: ms(lat.pct(99))}.check("< 20 ms", lat.pct(99) < 20*time.Millisecond),
		Figure{Group: "api", Name: "list page errors", Unit: "", Value: float64(errs.Load())}.check("= 0", errs.Load() == 0))
	return nil
}

// get sends an authenticated GET and drains the body; a status other than 200 is an error.
// newPageClient is the list figure's load generator: fasthttp's client, which costs a fraction of
// net/http's per request. It shares the gateway's 2 cores, and what it spends is not the gateway's.
func newPageClient(base string, conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{Addr: strings.TrimPrefix(base, "http://"), MaxConns: conns,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
}

// getPage GETs url as the holder of token and checks the answer is a 200 with a JSON list page.
func getPage(c *fasthttp.HostClient, url, token string) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.Set("Authorization", "Bearer "+token)
	if err := c.DoTimeout(req, resp, 30*time.Second); err != nil {
		return err
	}
	if resp.StatusCode() != http.StatusOK || !bytes.HasPrefix(resp.Body(), []byte(`{"items":[`)) {
		return fmt.Errorf("GET %s: %d %.200s", url, resp.StatusCode(), resp.Body())
	}
	return nil
}

func get(ctx context.Context, client *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	return nil
}

// subscribers holds n SSE connections to /api/v1/events open until close. Like a browser's
// EventSource, a subscriber whose stream ends (the gateway closes a client that falls too far
// behind) reconnects with Last-Event-ID; reconnects are counted, and a reconnect that fails is a
// failure.
type subscribers struct {
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	bytes      atomic.Int64
	reconnects atomic.Int64
	failures   atomic.Int64
	client     *http.Client
	base       string
	token      string
}

// subscribe opens n subscribers and returns once every one has its response headers.
func subscribe(ctx context.Context, base, token string, n int) (*subscribers, error) {
	ctx, cancel := context.WithCancel(ctx)
	s := &subscribers{cancel: cancel, base: base, token: token,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true}}}
	ready := make(chan error, n)
	for range n {
		s.wg.Go(func() { s.follow(ctx, ready) })
	}
	for range n {
		if err := <-ready; err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// follow reads one subscriber's stream until ctx ends, reconnecting from the last event id.
func (s *subscribers) follow(ctx context.Context, ready chan<- error) {
	lastID := ""
	for first := true; ; first = false {
		body, err := s.open(ctx, lastID)
		if first {
			ready <- err
		}
		if err != nil {
			if !first && ctx.Err() == nil {
				s.failures.Add(1)
			}
			return
		}
		rd := bufio.NewReaderSize(body, 64<<10)
		for {
			line, err := rd.ReadString('\n')
			s.bytes.Add(int64(len(line)))
			if id, ok := strings.CutPrefix(line, "id: "); ok {
				lastID = strings.TrimSpace(id)
			}
			if err != nil {
				break
			}
		}
		body.Close()
		select { // the gateway's "retry: 3000", as an EventSource honours it
		case <-ctx.Done():
			return
		case <-time.After(3 * time.Second):
		}
		s.reconnects.Add(1)
	}
}

func (s *subscribers) open(ctx context.Context, lastID string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/api/v1/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("events: %d", resp.StatusCode)
	}
	return resp.Body, nil
}

func (s *subscribers) close() {
	s.cancel()
	s.wg.Wait()
}

// sseSlurmCalls counts the gateway's Slurm calls over the same window without and then with 100
// SSE subscribers: subscribers read the event broker, never Slurm.
func (b *bench) sseSlurmCalls(ctx context.Context) error {
	window := 9 * time.Second // three default poll intervals
	count := func() (int64, error) {
		c0, err := slurmCalls(ctx, b.gw.client, b.gw.url)
		if err != nil {
			return 0, err
		}
		time.Sleep(window)
		c1, err := slurmCalls(ctx, b.gw.client, b.gw.url)
		return c1 - c0, err
	}
	without, err := count()
	if err != nil {
		return err
	}
	subs, err := subscribe(ctx, b.gw.url, b.gw.tokens["alice"], 100)
	if err != nil {
		return err
	}
	with, err := count()
	subs.close()
	if err != nil {
		return err
	}
	f := Figure{Group: "sse", Name: "Slurm calls in 9 s with 100 subscribers", Unit: "calls", Value: float64(with),
		Note: "one poll tick may fall in either window: +1 is tick alignment, not a call per subscriber"}.
		withBaseline("no subscribers", float64(without))
	b.add(f.check("≤ baseline (+1 tick)", with <= without+1))
	return nil
}

// gatewayRSS runs the gateway binary as its own process over a database seeded with the
// containers, holds 100 SSE subscribers and some list traffic, and reads its VmRSS and VmHWM.
func (b *bench) gatewayRSS(ctx context.Context) error {
	dir := filepath.Join(b.dir, "rss")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bin := filepath.Join(dir, "batchgate")
	if out, err := command(ctx, nil, "go", "build", "-o", bin, "./gateway/cmd/batchgate"); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	dbPath := filepath.Join(dir, "batchgate.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	tokens, err := seedIdentities(ctx, db)
	if err == nil {
		err = seedContainers(ctx, db, b.opts.containers)
	}
	db.Close()
	if err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"serve"}
	for k, v := range gatewayFlags(dbPath, addr) {
		args = append(args, "--"+k+"="+v)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	cmd.WaitDelay = 10 * time.Second
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	base := "http://" + addr
	client := keepAliveClient(8)
	if err := waitHealthy(ctx, client, base); err != nil {
		return err
	}
	subs, err := subscribe(ctx, base, tokens["alice"], 100)
	if err != nil {
		return err
	}
	defer subs.close()
	for range 500 { // list traffic, so the figure includes serving, not only an idle heap
		if err := get(ctx, client, base+"/api/v1/containers?limit=100", tokens["alice"]); err != nil {
			return err
		}
	}
	time.Sleep(4 * time.Second) // a poll or two
	rss, hwm, err := procMemory(cmd.Process.Pid)
	if err != nil {
		return err
	}
	b.add(Figure{Group: "memory", Name: fmt.Sprintf("gateway RSS, %d containers, 100 subscribers", b.opts.containers), Unit: "MB",
		Value: rss, Note: fmt.Sprintf("the gateway binary as its own process, VmRSS after 500 list requests; peak VmHWM %.1f MB", hwm)}.
		check("< 150 MB", rss < 150))
	return nil
}

func callsByCommand(m0, m1 map[string]int64) string {
	var parts []string
	for _, k := range []string{"sbatch", "squeue", "sacct", "scancel", "scontrol_update"} {
		parts = append(parts, fmt.Sprintf("%s %d", k, m1[k]-m0[k]))
	}
	return strings.Join(parts, ", ")
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitHealthy(ctx context.Context, client *http.Client, base string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/healthz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("gateway at %s not healthy after 30 s", base)
}

// procMemory reads VmRSS and VmHWM (MB) from /proc/PID/status.
func procMemory(pid int) (rss, hwm float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		n, _ := strconv.ParseFloat(f[0], 64)
		switch k {
		case "VmRSS":
			rss = n * 1024 / 1e6
		case "VmHWM":
			hwm = n * 1024 / 1e6
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
	}
	return rss, hwm, nil
}

// load: the subscribers connected, clients create and start containers scheduled at a future hour
// (so nothing runs) as fast as the gateway answers, for the configured duration.
func (b *bench) load(ctx context.Context) error {
	subs, err := subscribe(ctx, b.gw.url, b.gw.tokens["alice"], b.opts.subscribers)
	if err != nil {
		return fmt.Errorf("%d subscribers: %w", b.opts.subscribers, err)
	}
	defer subs.close()
	m0, err := metricsSnapshot(ctx, b.gw.client, b.gw.url)
	if err != nil {
		return err
	}
	at := futureHour().Format(time.RFC3339)
	client := keepAliveClient(b.opts.clients)
	g := *b.gw
	g.client = client
	var mu sync.Mutex
	var lat durations
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(b.opts.duration)
	for w := range b.opts.clients {
		wg.Go(func() {
			var mine durations
			for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
				t := time.Now()
				body := map[string]any{"project": "vision", "name": fmt.Sprintf("load-%03d-%05d", w, i), "image": "busybox",
					"flavor": "gpu-1", "command": "true", "schedule": map[string]string{"kind": "at", "at": at}}
				var c apiContainer
				var task apiTask
				err := g.call(ctx, "alice", "POST", "/api/v1/containers", body, &c)
				if err == nil {
					err = g.call(ctx, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task)
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				b.track(task.JobID)
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	took := time.Since(start)
	m1, err := metricsSnapshot(ctx, b.gw.client, b.gw.url)
	if err != nil {
		return err
	}
	var calls int64
	for k := range m1 {
		if k != "ticks" {
			calls += m1[k] - m0[k]
		}
	}
	ticks, squeues := m1["ticks"]-m0["ticks"], m1["squeue"]-m0["squeue"]
	name := fmt.Sprintf("load: %d clients create+start, %s", b.opts.clients, b.opts.duration)
	var note string
	if e := firstErr.Load(); e != nil {
		note = "first error: " + e.(string)
		if l := b.gw.firstLogError(); l != "" {
			note += "; the gateway logged first: " + l
		}
	}
	b.add(Figure{Group: "load", Name: name + ", throughput", Unit: "starts/s", Value: float64(len(lat)) / took.Seconds(), Note: note},
		Figure{Group: "load", Name: "load: create+start p50", Unit: "ms", Value: ms(lat.pct(50))},
		Figure{Group: "load", Name: "load: create+start p99", Unit: "ms", Value: ms(lat.pct(99))},
		Figure{Group: "load", Name: "load: errors", Unit: "", Value: float64(errs.Load())}.check("= 0", errs.Load() == 0),
		Figure{Group: "load", Name: "load: Slurm calls per second", Unit: "calls/s", Value: float64(calls) / took.Seconds(),
			Note: fmt.Sprintf("by command: %s", callsByCommand(m0, m1))},
		Figure{Group: "load", Name: "load: reconciler passes completed", Unit: "passes", Value: float64(ticks),
			Note: fmt.Sprintf("%.0f were due (one per 3 s); fewer means task states lag under load", took.Seconds()/3)},
		Figure{Group: "load", Name: "load: squeue calls per reconciler pass", Unit: "calls", Value: float64(squeues) / float64(max(ticks, 1)),
			Note: fmt.Sprintf("%d squeue calls in %d passes (a pass straddling the start may add one); passes are due every 3 s", squeues, ticks)}.check("≤ 1", squeues > 0 && squeues <= ticks+1),
		Figure{Group: "load", Name: fmt.Sprintf("load: %d SSE subscribers, reconnects", b.opts.subscribers), Unit: "",
			Value: float64(subs.reconnects.Load()), Note: fmt.Sprintf("streams the gateway closed (a subscriber fell too far behind) and the "+
				"subscriber resumed with Last-Event-ID; %.0f MB of events received in all", float64(subs.bytes.Load())/1e6)},
		Figure{Group: "load", Name: "load: SSE reconnects that failed", Unit: "", Value: float64(subs.failures.Load())}.
			check("= 0", subs.failures.Load() == 0))
	return nil
}
