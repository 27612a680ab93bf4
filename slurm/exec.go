package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Config configures a Client. The zero value runs the Slurm commands found in
// the standard system PATH as the calling user, with the defaults below.
type Config struct {
	// Bin is the directory holding sbatch, squeue, ...; "" means look them up
	// in the command PATH (which is the fixed system path unless Env sets one).
	Bin string
	// Env is added to the environment of every command, e.g.
	// "SLURM_CONF=/etc/slurm/slurm.conf". Nothing is inherited from the
	// gateway's own environment: its secrets and any SBATCH_*/SQUEUE_*
	// variables must not reach Slurm. TZ and SLURM_TIME_FORMAT are always
	// forced to UTC and "standard" (see the package doc).
	Env []string
	// Wrapper is the argv prefix that runs a command as a given Unix user;
	// every "{user}" element is replaced by the user name, e.g.
	// {"runuser", "-u", "{user}", "--"} or {"sudo", "-n", "-u", "{user}", "--"}.
	// Empty means no wrapper (a single-user install). Operator calls (user "")
	// never use it.
	Wrapper []string
	// Timeout bounds each command (default 30s). A command that runs past it is
	// killed and reported as ErrUnavailable.
	Timeout time.Duration
	// Location is the cluster's time zone, used by Client.Render for the
	// human-readable times in scripts (default UTC).
	Location *time.Location
	// MaxWindow is the longest time span one sacct call may cover (default
	// 24h); Accounting splits longer ranges.
	MaxWindow time.Duration
}

// Client runs the Slurm commands. It holds no mutable state and is safe for
// concurrent use.
type Client struct {
	cfg Config
	env []string
}

// systemPath is the PATH given to every command unless Config.Env sets one.
const systemPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxStderr caps the stderr kept in an ExecError.
const maxStderr = 4096

// New checks cfg, fills in defaults and returns a Client. It fails if an Env
// entry is not NAME=value, Timeout or MaxWindow is negative, or the wrapper
// has an empty element.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout < 0 || cfg.MaxWindow < 0 {
		return nil, errors.New("slurm config: negative Timeout or MaxWindow")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.MaxWindow == 0 {
		cfg.MaxWindow = 24 * time.Hour
	}
	if cfg.MaxWindow < time.Minute {
		return nil, errors.New("slurm config: MaxWindow shorter than a minute")
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	for _, w := range cfg.Wrapper {
		if w == "" {
			return nil, errors.New("slurm config: empty element in Wrapper")
		}
	}
	env := []string{systemPath}
	for _, kv := range cfg.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("slurm config: Env entry %q is not NAME=value", kv)
		}
		env = append(env, kv)
	}
	// Appended last so they win: exec keeps the last value of a duplicate.
	env = append(env, "TZ=UTC", "SLURM_TIME_FORMAT=standard")
	return &Client{cfg: cfg, env: env}, nil
}

// userRE accepts plain Unix login names; a leading '-' would be read as an
// option by runuser or sudo.
var userRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*\$?$`)

// argv builds the command line: the wrapper (for a named user), then the
// binary, then args.
func (c *Client) argv(user, name string, args []string) ([]string, error) {
	bin := name
	if c.cfg.Bin != "" {
		bin = filepath.Join(c.cfg.Bin, name)
	}
	var argv []string
	if user != "" {
		if !userRE.MatchString(user) || len(user) > 64 {
			return nil, fmt.Errorf("%q: %w", user, ErrInvalidUser)
		}
		for _, w := range c.cfg.Wrapper {
			argv = append(argv, strings.ReplaceAll(w, "{user}", user))
		}
	}
	argv = append(argv, bin)
	return append(argv, args...), nil
}

// run executes one Slurm command (as user, or as the operator when user is
// "") with stdin, and returns its stdout. Failures come back classified: see
// classify.
func (c *Client) run(ctx context.Context, user, name string, args []string, stdin []byte) ([]byte, error) {
	out, _, err := c.runStderr(ctx, user, name, args, stdin)
	return out, err
}

// runStderr is run that also returns the stderr of a successful command, for
// commands such as scancel that report errors there with exit status 0.
func (c *Client) runStderr(ctx context.Context, user, name string, args []string, stdin []byte) ([]byte, *ExecError, error) {
	r, err := c.start(ctx, user, name, args, bytes.NewReader(stdin))
	if err != nil {
		return nil, nil, err
	}
	return r.wait()
}

// running is one Slurm command started under its own timeout.
type running struct {
	c              *Client
	name           string
	argv           []string
	cmd            *exec.Cmd
	ctx, tctx      context.Context
	cancel         context.CancelFunc
	stdout, stderr bytes.Buffer
	startErr       error
}

// start starts one Slurm command (as user, or as the operator when user is "") reading stdin
// (nil: stdin is a pipe, in r.cmd.Stdin's place, for the caller to write). A command that cannot
// be started is reported by wait, as a failed run.
func (c *Client) start(ctx context.Context, user, name string, args []string, stdin io.Reader) (*running, error) {
	argv, err := c.argv(user, name, args)
	if err != nil {
		return nil, err
	}
	r := &running{c: c, name: name, argv: argv, ctx: ctx}
	r.tctx, r.cancel = context.WithTimeout(ctx, c.cfg.Timeout)
	r.cmd = exec.CommandContext(r.tctx, argv[0], argv[1:]...)
	r.cmd.Env = c.env
	r.cmd.Dir = "/"
	r.cmd.WaitDelay = 2 * time.Second
	r.cmd.Stdin = stdin
	r.cmd.Stdout = &r.stdout
	r.cmd.Stderr = &r.stderr
	r.startErr = r.cmd.Start()
	return r, nil
}

// wait waits for the command and returns its stdout (and its stderr, on success), or the
// failure classified: see classify.
func (r *running) wait() ([]byte, *ExecError, error) {
	defer r.cancel()
	err := r.startErr
	if err == nil {
		err = r.cmd.Wait()
	}
	ee := &ExecError{Binary: r.argv[0], Args: r.argv[1:], ExitCode: -1, Stderr: trimStderr(r.stderr.Bytes()), Err: err}
	if err == nil {
		ee.ExitCode = 0
		return r.stdout.Bytes(), ee, nil
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		ee.ExitCode = exitErr.ExitCode()
	}
	if r.ctx.Err() != nil {
		// The caller gave up; that is not Slurm's fault.
		return nil, nil, fmt.Errorf("%s: %w (%w)", r.name, r.ctx.Err(), ee)
	}
	if r.tctx.Err() != nil {
		return nil, nil, fmt.Errorf("%s: timed out after %s: %w: %w", r.name, r.c.cfg.Timeout, ErrUnavailable, ee)
	}
	return nil, nil, classify(r.name, ee)
}

func trimStderr(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > maxStderr {
		s = s[:maxStderr] + "..."
	}
	return s
}

// unavailable are stderr fragments that mean the controller or slurmdbd could
// not be reached (Slurm 22.05 wording).
var unavailable = []string{
	"Unable to contact slurm controller",
	"Socket timed out",
	"Connection refused",
	"Zero Bytes were transmitted or received",
	"Communication connection failure",
	"Slurm backup controller in standby mode",
	"Problem talking to the database",
}

// classify turns a failed command into the package's typed errors: the
// sentinels for known messages, *RejectedError for sbatch refusing a job, and
// the bare *ExecError otherwise (a missing binary, a wrapper failing ...).
func classify(name string, ee *ExecError) error {
	for _, frag := range unavailable {
		if strings.Contains(ee.Stderr, frag) {
			return fmt.Errorf("%s: %w: %w", name, ErrUnavailable, ee)
		}
	}
	switch {
	case strings.Contains(ee.Stderr, "Invalid job id"):
		return fmt.Errorf("%s: %w: %w", name, ErrJobNotFound, ee)
	case strings.Contains(ee.Stderr, "Access/permission denied"):
		return fmt.Errorf("%s: %w: %w", name, ErrAccessDenied, ee)
	case strings.Contains(ee.Stderr, "no longer pending"),
		strings.Contains(ee.Stderr, "Job is no longer pending execution"),
		strings.Contains(ee.Stderr, "Requested operation is presently disabled"),
		strings.Contains(ee.Stderr, "has already finished"),
		strings.Contains(ee.Stderr, "already completing or completed"):
		return fmt.Errorf("%s: %w: %w", name, ErrJobNotPending, ee)
	}
	if name == "sbatch" {
		if msg := sbatchMessage(ee.Stderr); msg != "" {
			return &RejectedError{Message: msg, Exec: ee}
		}
	}
	return fmt.Errorf("%s: %w", name, ee)
}

// sbatchMessage picks sbatch's own reason out of its stderr: the last line
// written by sbatch itself ("sbatch: error: ..."), without the prefix. A
// failure of the wrapper or the exec, or sbatch's "fatal:" configuration
// errors, give "": those are not about the job.
func sbatchMessage(stderr string) string {
	lines := strings.Split(stderr, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if msg, ok := strings.CutPrefix(l, "sbatch: error: "); ok {
			return msg
		}
	}
	return ""
}
