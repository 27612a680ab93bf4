package slurm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The exec path is tested with the test binary impersonating the Slurm
// commands: fakeBin links sbatch, squeue, ... to os.Executable(), and TestMain
// acts as the named command when FAKE_SLURM_MODE is set (it reaches the
// child only through Config.Env, which also proves Env is passed).
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_SLURM_MODE"); mode != "" {
		os.Exit(fakeSlurm(filepath.Base(os.Args[0]), os.Args[1:], mode))
	}
	os.Exit(m.Run())
}

// fakeCall is what a fake command saw; appended as a JSON line to
// FAKE_SLURM_RECORD.
type fakeCall struct {
	Name  string
	Args  []string
	Stdin string
	Env   []string
}

func fakeSlurm(name string, args []string, mode string) int {
	stdin, _ := io.ReadAll(os.Stdin)
	if p := os.Getenv("FAKE_SLURM_RECORD"); p != "" {
		b, _ := json.Marshal(fakeCall{Name: name, Args: args, Stdin: string(stdin), Env: os.Environ()})
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			_, _ = f.Write(append(b, '\n'))
			_ = f.Close()
		}
	}
	out := func(s string) { fmt.Fprint(os.Stdout, s) }
	fail := func(code int, s string) int { fmt.Fprintln(os.Stderr, s); return code }
	switch mode {
	case "ok":
		switch name {
		case "sbatch":
			out("sbatch: irrelevant\n123;batchgate\n")
		case "scontrol":
			if len(args) > 0 && args[0] == "ping" {
				out("Slurmctld(primary) at vm is UP\n")
			}
		case "fakewrap":
			out("77\n")
		default:
			path := os.Getenv("FAKE_SLURM_OUT")
			if slices.Contains(args, "--format="+SacctTextFormat) {
				path = os.Getenv("FAKE_SLURM_OUT_TEXT")
			}
			b, _ := os.ReadFile(path)
			os.Stdout.Write(b)
		}
		return 0
	case "warn":
		fmt.Fprintln(os.Stderr, "sbatch: warning: something harmless")
		out("456\n")
		return 0
	case "garbage":
		out("hello world\n")
		return 0
	case "sleep":
		time.Sleep(time.Minute)
		return 0
	case "orphan": // a grandchild keeps stdout open after we are killed
		cmd := exec.Command("sleep", "30")
		cmd.Stdout = os.Stdout
		_ = cmd.Start()
		time.Sleep(time.Minute)
		return 0
	case "down":
		if name == "scontrol" {
			out("Slurmctld(primary) at vm is DOWN\n")
			return 1
		}
		return fail(1, name+": error: Unable to contact slurm controller (connect failure)")
	case "reject":
		return fail(1, "sbatch: error: Batch job submission failed: Invalid account or account/partition combination specified")
	case "fatal":
		return fail(1, "sbatch: fatal: Could not establish a configuration source")
	case "notfound":
		return fail(1, name+": error: Kill job error on job id 99: Invalid job id specified")
	case "notfound0": // scancel --verbose on 22.05: the error, but exit 0
		fmt.Fprintln(os.Stderr, "scancel: Terminating job 99")
		fmt.Fprintln(os.Stderr, "scancel: error: Kill job error on job id 99: Invalid job id specified")
		return 0
	case "completed0":
		fmt.Fprintln(os.Stderr, "scancel: error: Kill job error on job id 37: Job/step already completing or completed")
		return 0
	case "denied":
		return fail(1, name+": error: Kill job error on job id 5: Access/permission denied")
	case "crash":
		return fail(2, "boom")
	}
	return fail(99, "unknown fake mode "+mode)
}

// fakeClient returns a Client whose Slurm commands are the test binary in
// the given mode, and the path where the last command records its call.
func fakeClient(t *testing.T, mode string, mod func(*Config)) (*Client, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []string{"sbatch", "squeue", "scontrol", "scancel", "sacct", "fakewrap"} {
		if err := os.Symlink(self, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	rec := filepath.Join(dir, "fakeCall.json")
	cfg := Config{Bin: dir, Timeout: 5 * time.Second,
		Env: []string{"FAKE_SLURM_MODE=" + mode, "FAKE_SLURM_RECORD=" + rec, "TZ=America/New_York"}}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, rec
}

// readRecords returns every call the fake commands recorded, in order.
func readRecords(t *testing.T, path string) []fakeCall {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fake command left no fakeCall: %v", err)
	}
	var rs []fakeCall
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r fakeCall
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	return rs
}

// readRecord returns the last recorded call.
func readRecord(t *testing.T, path string) fakeCall {
	t.Helper()
	rs := readRecords(t, path)
	return rs[len(rs)-1]
}

func TestSubmitSendsScriptOnStdinWithUTCAndParsesID(t *testing.T) {
	t.Setenv("TZ", "Asia/Kolkata") // the gateway's own zone must not leak
	t.Setenv("SBATCH_ACCOUNT", "leaked")
	c, rec := fakeClient(t, "ok", nil)
	id, err := c.Submit(context.Background(), "", []byte("#!/bin/bash\ntrue\n"))
	if err != nil {
		t.Fatal(err)
	}
	if id != "123" {
		t.Errorf("id = %q, want 123 (cut at ';', last line)", id)
	}
	r := readRecord(t, rec)
	if r.Name != "sbatch" || !slices.Equal(r.Args, []string{"--parsable"}) {
		t.Errorf("ran %s %q", r.Name, r.Args)
	}
	if r.Stdin != "#!/bin/bash\ntrue\n" {
		t.Errorf("stdin = %q", r.Stdin)
	}
	env := strings.Join(r.Env, "\n")
	for _, want := range []string{"TZ=UTC", "SLURM_TIME_FORMAT=standard", "PATH=/usr/local/sbin"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s:\n%s", want, env)
		}
	}
	for _, bad := range []string{"Asia/Kolkata", "America/New_York", "SBATCH_ACCOUNT"} {
		if strings.Contains(env, bad) {
			t.Errorf("env leaks %s:\n%s", bad, env)
		}
	}
}

func TestSubmitIgnoresWarningsOnStderr(t *testing.T) {
	c, _ := fakeClient(t, "warn", nil)
	id, err := c.Submit(context.Background(), "", []byte("x"))
	if err != nil || id != "456" {
		t.Fatalf("Submit = %q, %v; want 456, nil", id, err)
	}
}

func TestSubmitThroughWrapper(t *testing.T) {
	var bin string
	c, rec := fakeClient(t, "ok", func(cfg *Config) {
		bin = cfg.Bin
		cfg.Wrapper = []string{filepath.Join(cfg.Bin, "fakewrap"), "-u", "{user}", "--"}
	})
	id, err := c.Submit(context.Background(), "alice", []byte("x"))
	if err != nil || id != "77" {
		t.Fatalf("Submit = %q, %v", id, err)
	}
	r := readRecord(t, rec)
	want := []string{"-u", "alice", "--", filepath.Join(bin, "sbatch"), "--parsable"}
	if r.Name != "fakewrap" || !slices.Equal(r.Args, want) {
		t.Errorf("wrapper ran with %q, want %q", r.Args, want)
	}
	for _, bad := range []string{"-rf", "alice bob", "", "a;b", "../x"} {
		if _, err := c.Submit(context.Background(), bad+"x", nil); bad != "" && !errors.Is(err, ErrInvalidUser) {
			t.Errorf("user %q: err = %v, want ErrInvalidUser", bad+"x", err)
		}
	}
	if _, err := c.Submit(context.Background(), "-rf", nil); !errors.Is(err, ErrInvalidUser) {
		t.Errorf("user -rf: err = %v, want ErrInvalidUser", err)
	}
}

func TestExecErrorsAreTyped(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		mode string
		call func(*Client) error
		is   error
	}{
		{"down", func(c *Client) error { _, err := c.Poll(ctx); return err }, ErrUnavailable},
		{"down", func(c *Client) error { return c.Ping(ctx) }, ErrUnavailable},
		{"down", func(c *Client) error { _, err := c.Submit(ctx, "", nil); return err }, ErrUnavailable},
		{"notfound", func(c *Client) error { return c.Cancel(ctx, "", "99") }, ErrJobNotFound},
		{"notfound", func(c *Client) error { return c.StartNow(ctx, "99") }, ErrJobNotFound},
		{"notfound0", func(c *Client) error { return c.Cancel(ctx, "", "99") }, ErrJobNotFound},
		{"denied", func(c *Client) error { return c.Cancel(ctx, "", "5") }, ErrAccessDenied},
		{"garbage", func(c *Client) error { _, err := c.Submit(ctx, "", nil); return err }, ErrMalformed},
		{"garbage", func(c *Client) error { _, err := c.Poll(ctx); return err }, ErrMalformed},
		{"garbage", func(c *Client) error { return c.Ping(ctx) }, ErrUnavailable},
	}
	for _, tt := range tests {
		c, _ := fakeClient(t, tt.mode, nil)
		if err := tt.call(c); !errors.Is(err, tt.is) {
			t.Errorf("mode %s: err = %v, want %v", tt.mode, err, tt.is)
		}
	}
}

func TestSbatchRejectionKeepsSlurmsMessage(t *testing.T) {
	c, _ := fakeClient(t, "reject", nil)
	_, err := c.Submit(context.Background(), "", nil)
	var rej *RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("err = %v, want *RejectedError", err)
	}
	want := "Batch job submission failed: Invalid account or account/partition combination specified"
	if rej.Message != want {
		t.Errorf("Message = %q, want %q", rej.Message, want)
	}
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode != 1 || !strings.HasSuffix(ee.Binary, "/sbatch") {
		t.Errorf("ExecError = %+v", ee)
	}
}

func TestNonZeroExitIsExecError(t *testing.T) {
	for _, mode := range []string{"crash", "fatal"} {
		c, _ := fakeClient(t, mode, nil)
		_, err := c.Submit(context.Background(), "", nil)
		var ee *ExecError
		var rej *RejectedError
		if !errors.As(err, &ee) || errors.As(err, &rej) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: err = %v, want a bare *ExecError", mode, err)
		}
		if ee.ExitCode == 0 || ee.Stderr == "" || !slices.Equal(ee.Args, []string{"--parsable"}) {
			t.Errorf("%s: ExecError = %+v", mode, ee)
		}
	}
}

func TestMissingBinaryIsExecError(t *testing.T) {
	c, err := New(Config{Bin: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(context.Background())
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode != -1 {
		t.Fatalf("err = %v, want *ExecError with exit -1", err)
	}
}

func TestTimeoutIsUnavailableAndKillsTheCommand(t *testing.T) {
	for _, mode := range []string{"sleep", "orphan"} {
		c, _ := fakeClient(t, mode, func(cfg *Config) { cfg.Timeout = 300 * time.Millisecond })
		start := time.Now()
		_, err := c.Poll(context.Background())
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: err = %v, want ErrUnavailable", mode, err)
		}
		// Timeout + WaitDelay, not the minute the fake sleeps.
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %s", mode, d)
		}
	}
}

func TestCallerCancellationIsNotUnavailable(t *testing.T) {
	c, _ := fakeClient(t, "sleep", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Poll(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want the caller's context error", err)
	}
}

func TestPollRunsOneSqueueForAllJobs(t *testing.T) {
	fixture, err := filepath.Abs("testdata/squeue_22.05_active.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, rec := fakeClient(t, "ok", func(cfg *Config) { cfg.Env = append(cfg.Env, "FAKE_SLURM_OUT="+fixture) })
	jobs, err := c.Poll(context.Background())
	// The fixture holds a forged line: reported, and the other jobs kept.
	if !errors.Is(err, ErrMalformed) || len(jobs) != 16 {
		t.Fatalf("Poll = %d jobs, %v; want 16 and ErrMalformed", len(jobs), err)
	}
	r := readRecord(t, rec)
	want := []string{"--noheader", "--all", "--states=all", "--Format=" + SqueueFormat}
	if r.Name != "squeue" || !slices.Equal(r.Args, want) {
		t.Errorf("ran %s %q", r.Name, r.Args)
	}
}

func TestCancelAndStartNowArgs(t *testing.T) {
	c, rec := fakeClient(t, "ok", nil)
	if err := c.Cancel(context.Background(), "", "42"); err != nil {
		t.Fatal(err)
	}
	if r := readRecord(t, rec); r.Name != "scancel" || !slices.Equal(r.Args, []string{"--verbose", "42"}) {
		t.Errorf("ran %s %q", r.Name, r.Args)
	}
	if err := c.StartNow(context.Background(), "42"); err != nil {
		t.Fatal(err)
	}
	if r := readRecord(t, rec); r.Name != "scontrol" || !slices.Equal(r.Args, []string{"update", "jobid=42", "StartTime=now"}) {
		t.Errorf("ran %s %q", r.Name, r.Args)
	}
	if err := c.Cancel(context.Background(), "", "42 --signal=KILL"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("bad id: err = %v", err)
	}
}

func TestCancelOfEndedJobIsNotAnError(t *testing.T) {
	c, _ := fakeClient(t, "completed0", nil)
	if err := c.Cancel(context.Background(), "", "37"); err != nil {
		t.Fatalf("Cancel = %v, want nil", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Env: []string{"NOEQUALS"}},
		{Env: []string{"=x"}},
		{Timeout: -1},
		{MaxWindow: time.Second},
		{Wrapper: []string{"runuser", ""}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// An sbatch started ahead of its script submits exactly the script handed over later; an aborted
// one never reads a script, so no job could be made.
func TestStartSubmit(t *testing.T) {
	ctx := context.Background()
	c, rec := fakeClient(t, "ok", nil)
	p, err := c.StartSubmit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	script := []byte("#!/bin/bash\n#SBATCH --comment=tsk_1\ntrue\n")
	id, err := p.Submit(script)
	if err != nil || id != "123" {
		t.Fatalf("Submit = %q, %v; want 123", id, err)
	}
	calls := readRecords(t, rec)
	if len(calls) != 1 || calls[0].Name != "sbatch" || calls[0].Stdin != string(script) ||
		!slices.Equal(calls[0].Args, []string{"--parsable"}) {
		t.Fatalf("sbatch saw %+v", calls)
	}
	if _, err := p.Submit(script); err == nil {
		t.Fatal("a second Submit was accepted")
	}
	p.Abort() // after Submit: nothing happens

	c, rec = fakeClient(t, "ok", nil)
	p, err = c.StartSubmit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	p.Abort()
	if _, err := os.Stat(rec); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an aborted sbatch read a script and ran (record: %v)", err)
	}

	c, _ = fakeClient(t, "reject", nil)
	p, err = c.StartSubmit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var rejected *RejectedError
	if _, err := p.Submit(script); !errors.As(err, &rejected) || !strings.Contains(rejected.Message, "Invalid account") {
		t.Fatalf("Submit of a refused job: %v, want a RejectedError with sbatch's message", err)
	}

	if _, err := c.StartSubmit(ctx, "-rf"); !errors.Is(err, ErrInvalidUser) {
		t.Fatalf("StartSubmit as %q: %v, want ErrInvalidUser", "-rf", err)
	}
}
