package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"batchgate/gateway"
	"batchgate/slurm"
)

// futureHour is a whole hour far enough ahead that no bench job starts while the bench runs.
func futureHour() time.Time { return gateway.NextWholeHour(time.Now(), time.UTC).Add(time.Hour) }

func slurmClient() (*slurm.Client, error) {
	return slurm.New(slurm.Config{Timeout: time.Minute, Location: time.UTC,
		Wrapper: []string{"runuser", "-u", "{user}", "--"}, Env: []string{"SLURM_CONF=" + os.Getenv("SLURM_CONF")}})
}

// bareSbatch submits script as alice with a plain `runuser -u alice -- sbatch --parsable`, the
// way the gateway's slurm package runs it (TZ=UTC in the environment, no other process in
// between), and returns the job id.
func bareSbatch(ctx context.Context, script []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", "-u", "alice", "--", "sbatch", "--parsable")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	cmd.Stdin = bytes.NewReader(script)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("runuser -u alice -- sbatch: %w: %s", err, bytes.TrimSpace(out))
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	return id, nil
}

// benchJobSpec is the job the submit figures submit: alice's, pending until a future hour.
func benchJobSpec(name string) slurm.JobSpec {
	work := filepath.Join(os.Getenv("BATCHGATE_HFS_ROOT"), "work", "alice")
	return slurm.JobSpec{Name: name, Account: "vision", Partition: "gpu", GPUs: 1, CPUsPerTask: 1, MemoryMB: 1000,
		TimeLimit: time.Hour, Begin: futureHour(), WorkDir: work, Output: filepath.Join(work, "bench-%j.out"),
		Comment: "batchgate-bench", Command: []string{"true"}}
}

// submitPath times the gateway's submit path (render + sbatch through the slurm package) against
// a bare sbatch of the same script and against slurmrestd's submit, alternating the three.
func (b *bench) submitPath(ctx context.Context) error {
	c, err := slurmClient()
	if err != nil {
		return err
	}
	rest, err := newRestClient(ctx, "alice")
	if err != nil {
		b.log.Warn("slurmrestd baseline unavailable", "err", err)
	}
	spec := benchJobSpec("bench-submit")
	script, err := c.Render(spec)
	if err != nil {
		return err
	}
	var ours, bare, viaREST durations
	runOurs := func() error {
		t0 := time.Now()
		s, err := c.Render(spec)
		if err != nil {
			return err
		}
		id, err := c.Submit(ctx, "alice", s)
		if err != nil {
			return err
		}
		ours = append(ours, time.Since(t0))
		b.track(string(id))
		return nil
	}
	runBare := func() error { return b.timeBareSbatch(ctx, script, &bare) }
	runREST := func() error {
		if rest == nil {
			return nil
		}
		t0 := time.Now()
		id, err := rest.submit(ctx, spec, script)
		if err != nil {
			return err
		}
		viaREST = append(viaREST, time.Since(t0))
		b.track(id)
		return nil
	}
	for i := range b.opts.samples {
		if err := alternate(i, runOurs, runBare, runREST); err != nil {
			return err
		}
	}
	f := Figure{Group: "submit", Name: "render+submit p50", Unit: "ms", Value: ms(ours.pct(50))}.
		withBaseline("bare sbatch", ms(bare.pct(50)))
	b.add(f.check("overhead ≤ 5%", *f.Ratio <= 1.05),
		Figure{Group: "submit", Name: "render+submit p99", Unit: "ms", Value: ms(ours.pct(99))}.withBaseline("bare sbatch", ms(bare.pct(99))))
	if rest != nil {
		b.add(Figure{Group: "submit", Name: "render+submit p50 vs REST", Unit: "ms", Value: ms(ours.pct(50)),
			Note: "slurmrestd POST job/submit over a kept-alive connection, JWT"}.withBaseline("slurmrestd submit", ms(viaREST.pct(50))))
	}
	return nil
}

// alternate runs fs rotated by round i, so no side always goes first (and warms caches for the
// others).
func alternate(i int, fs ...func() error) error {
	for k := range fs {
		if err := fs[(i+k)%len(fs)](); err != nil {
			return err
		}
	}
	return nil
}

type apiContainer struct {
	ID string `json:"id"`
}

type apiTask struct {
	ID    string `json:"id"`
	JobID string `json:"job_id"`
}

// createStart times create+start through the API (a container scheduled at a future hour, so its
// job stays pending) against a bare sbatch of the script the gateway renders for it.
func (b *bench) createStart(ctx context.Context) error {
	at := futureHour().Format(time.RFC3339)
	var script []byte
	var ours, bare durations
	runOurs := func(i int) error {
		body := map[string]any{"project": "vision", "name": fmt.Sprintf("bench-cs-%03d", i), "image": "busybox",
			"flavor": "gpu-1", "command": "true", "schedule": map[string]string{"kind": "at", "at": at}}
		t0 := time.Now()
		var c apiContainer
		if err := b.gw.call(ctx, "alice", "POST", "/api/v1/containers", body, &c); err != nil {
			return err
		}
		create := time.Since(t0)
		if script == nil { // the script for this very container, fetched outside the timing
			var s string
			if err := b.gw.call(ctx, "alice", "GET", "/api/v1/containers/"+c.ID+"/script", nil, &s); err != nil {
				return err
			}
			script = []byte(s)
		}
		t0 = time.Now()
		var t apiTask
		if err := b.gw.call(ctx, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &t); err != nil {
			return err
		}
		ours = append(ours, create+time.Since(t0))
		b.track(t.JobID)
		return nil
	}
	runBare := func() error { return b.timeBareSbatch(ctx, script, &bare) }
	// The floor of the overhead: an HTTP round trip that does no work, after an idle as long as
	// a submission (the gateway's threads asleep, as they are when a create arrives).
	var ping durations
	runPing := func() error {
		time.Sleep(bare.pct(50))
		t0 := time.Now()
		if err := b.gw.call(ctx, "alice", "GET", "/healthz", nil, nil); err != nil {
			return err
		}
		ping = append(ping, time.Since(t0))
		return nil
	}
	for i := range b.opts.samples {
		// The first round must create the container whose script the baseline submits.
		if err := alternate(i, func() error { return runOurs(i) }, runBare, runPing); err != nil {
			return err
		}
	}
	f := Figure{Group: "api", Name: "create+start p50", Unit: "ms", Value: ms(ours.pct(50))}.
		withBaseline("bare sbatch", ms(bare.pct(50)))
	b.add(f.check("overhead ≤ 10%", *f.Ratio <= 1.10),
		Figure{Group: "api", Name: "create+start p99", Unit: "ms", Value: ms(ours.pct(99))}.withBaseline("bare sbatch", ms(bare.pct(99))),
		Figure{Group: "api", Name: "HTTP round trip after idle (GET /healthz) p50", Unit: "ms", Value: ms(ping.pct(50)),
			Note: "no work at all: create+start makes two requests, so twice this is in its overhead before any work"})
	return nil
}

// pollAndSacct times one reconciler poll (one squeue call + parse, through the slurm package)
// against a bare squeue with the same arguments and slurmrestd's job list, with the jobs the load
// phase left pending; then the usage read (sacct) against a bare sacct of the same window.
func (b *bench) pollAndSacct(ctx context.Context) error {
	c, err := slurmClient()
	if err != nil {
		return err
	}
	rest, err := newRestClient(ctx, "alice")
	if err != nil {
		b.log.Warn("slurmrestd baseline unavailable", "err", err)
	}
	args := []string{"--noheader", "--all", "--states=all", "--Format=" + slurm.SqueueFormat}
	var ours, bare, viaREST durations
	jobs := 0
	for range 5 {
		t0 := time.Now()
		js, err := c.Poll(ctx)
		if err != nil {
			return err
		}
		ours = append(ours, time.Since(t0))
		jobs = len(js)
		t0 = time.Now()
		if out, err := command(ctx, nil, "squeue", args...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		bare = append(bare, time.Since(t0))
		if rest != nil {
			t0 = time.Now()
			if err := rest.jobs(ctx); err != nil {
				return err
			}
			viaREST = append(viaREST, time.Since(t0))
		}
	}
	b.add(Figure{Group: "poll", Name: fmt.Sprintf("poll of %d jobs (squeue+parse) p50", jobs), Unit: "ms",
		Value: ms(ours.pct(50)), Note: "1 squeue call per poll by construction (slurm.Client.Poll)"}.withBaseline("bare squeue", ms(bare.pct(50))))
	if rest != nil {
		b.add(Figure{Group: "poll", Name: fmt.Sprintf("poll of %d jobs p50 vs REST", jobs), Unit: "ms",
			Value: ms(ours.pct(50))}.withBaseline("slurmrestd GET jobs", ms(viaREST.pct(50))))
	}

	to := time.Now().UTC().Truncate(time.Second)
	from := to.Add(-24 * time.Hour)
	sacctArgs := []string{"--allocations", "--parsable2", "--noheader", "--allusers", "--delimiter=" + slurm.Delimiter,
		"--format=" + slurm.SacctFormat, "--starttime=" + slurm.BeginValue(from), "--endtime=" + slurm.BeginValue(to.Add(-time.Second))}
	ours, bare = nil, nil
	recs := 0
	for range 3 {
		t0 := time.Now()
		rs, err := c.Accounting(ctx, slurm.AcctQuery{From: from, To: to})
		if err != nil {
			return err
		}
		ours = append(ours, time.Since(t0))
		recs = len(rs)
		t0 = time.Now()
		if out, err := command(ctx, nil, "sacct", sacctArgs...); err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		bare = append(bare, time.Since(t0))
	}
	b.add(Figure{Group: "usage", Name: fmt.Sprintf("sacct read of %d jobs (24 h) p50", recs), Unit: "ms", Value: ms(ours.pct(50)),
		Note: "slurm.Client.Accounting makes 2 sacct calls (figures, then names/comments); the baseline is 1"}.
		withBaseline("bare sacct", ms(bare.pct(50))))
	return nil
}

// restClient talks to the dev cluster's slurmrestd as one user, with a JWT from scontrol token,
// over one kept-alive connection.
type restClient struct {
	base, user, token string
	http              *http.Client
}

func newRestClient(ctx context.Context, user string) (*restClient, error) {
	base := os.Getenv("BATCHGATE_DEV_SLURMRESTD")
	if base == "" {
		return nil, fmt.Errorf("BATCHGATE_DEV_SLURMRESTD is not set")
	}
	out, err := command(ctx, nil, "scontrol", "token", "username="+user, "lifespan=600")
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, out)
	}
	_, tok, ok := strings.Cut(strings.TrimSpace(string(out)), "SLURM_JWT=")
	if !ok {
		return nil, fmt.Errorf("scontrol token printed %q", out)
	}
	return &restClient{base: base, user: user, token: tok, http: keepAliveClient(1)}, nil
}

func (r *restClient) do(ctx context.Context, method, path string, body any, out any) error {
	status, raw, err := roundTrip(ctx, r.http, method, r.base+path, body,
		map[string]string{"X-SLURM-USER-NAME": r.user, "X-SLURM-USER-TOKEN": r.token})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("slurmrestd %s %s: %d %s", method, path, status, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// submit posts the same job through slurmrestd (its fields from spec; the script body as is).
func (r *restClient) submit(ctx context.Context, spec slurm.JobSpec, script []byte) (string, error) {
	job := map[string]any{"name": spec.Name, "account": spec.Account, "partition": spec.Partition,
		"current_working_directory": spec.WorkDir, "standard_output": spec.Output, "comment": spec.Comment,
		"environment": map[string]string{"PATH": "/usr/bin:/bin"}, "gres": "gpu:" + strconv.Itoa(spec.GPUs),
		"cpus_per_task": spec.CPUsPerTask, "memory_per_node": spec.MemoryMB, "time_limit": int(spec.TimeLimit.Minutes()),
		"begin_time": spec.Begin.UTC().Format("2006-01-02T15:04:05")}
	var out struct {
		JobID  int               `json:"job_id"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := r.do(ctx, "POST", "/slurm/v0.0.38/job/submit", map[string]any{"job": job, "script": string(script)}, &out); err != nil {
		return "", err
	}
	if out.JobID == 0 || len(out.Errors) > 0 {
		return "", fmt.Errorf("slurmrestd submit: no job id (errors %s)", out.Errors)
	}
	return strconv.Itoa(out.JobID), nil
}

// jobs lists every job (the REST equivalent of the reconciler's poll).
func (r *restClient) jobs(ctx context.Context) error {
	var out struct {
		Jobs []json.RawMessage `json:"jobs"`
	}
	return r.do(ctx, "GET", "/slurm/v0.0.38/jobs", nil, &out)
}

// timeBareSbatch submits script with a bare sbatch as alice (the baseline), adds the time it took
// to into, and tracks the job for cleanup.
func (b *bench) timeBareSbatch(ctx context.Context, script []byte, into *durations) error {
	t0 := time.Now()
	id, err := bareSbatch(ctx, script)
	if err != nil {
		return err
	}
	*into = append(*into, time.Since(t0))
	b.track(id)
	return nil
}
