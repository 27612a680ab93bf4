package slurm

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors for conditions callers act on. Match them with errors.Is.
var (
	// ErrUnavailable means the Slurm controller (or slurmdbd for sacct) could
	// not be reached: it is down, refused the connection, or the command ran
	// past its timeout. Retrying later may succeed.
	ErrUnavailable = errors.New("slurm unavailable")
	// ErrJobNotFound means Slurm does not know the job id ("Invalid job id").
	ErrJobNotFound = errors.New("slurm job not found")
	// ErrJobNotPending means the job can no longer be changed as a pending job
	// (StartNow on a job that already runs or has ended).
	ErrJobNotPending = errors.New("slurm job not pending")
	// ErrAccessDenied means Slurm refused the operation for this user
	// ("Access/permission denied"), e.g. cancelling another user's job.
	ErrAccessDenied = errors.New("slurm access denied")
	// ErrInvalidUser means a user name given for the submit wrapper is not a
	// plain Unix login name.
	ErrInvalidUser = errors.New("invalid unix user name")
	// ErrMalformed means a Slurm command printed output that does not parse.
	ErrMalformed = errors.New("malformed slurm output")
)

// ExecError describes a Slurm command that failed: it could not start, exited
// non-zero, or was killed. Binary and Args are the argv as run (after the
// submit wrapper), ExitCode is -1 when the process did not exit normally, and
// Stderr is trimmed and capped.
type ExecError struct {
	Binary   string
	Args     []string
	ExitCode int
	Stderr   string
	Err      error // the underlying error from os/exec
}

// Error reports the command, its exit code and what it said on stderr.
func (e *ExecError) Error() string {
	cmd := strings.Join(append([]string{e.Binary}, e.Args...), " ")
	if e.Stderr == "" {
		return fmt.Sprintf("%s: exit %d: %v", cmd, e.ExitCode, e.Err)
	}
	return fmt.Sprintf("%s: exit %d: %s", cmd, e.ExitCode, e.Stderr)
}

// Unwrap returns the os/exec error.
func (e *ExecError) Unwrap() error { return e.Err }

// RejectedError is sbatch refusing a job (bad account, partition, gres, time
// limit, begin time ...). Message is Slurm's own words, e.g. "Batch job
// submission failed: Invalid account or account/partition combination
// specified". The ExecError is kept for logs.
type RejectedError struct {
	Message string
	Exec    *ExecError
}

// Error returns "sbatch rejected the job: " and Slurm's message.
func (e *RejectedError) Error() string { return "sbatch rejected the job: " + e.Message }

// Unwrap returns the ExecError of the failed sbatch.
func (e *RejectedError) Unwrap() error { return e.Exec }

// RenderError is a JobSpec field that cannot be written into a batch script
// safely. Field names the JobSpec field ("Command[2]", "Env[PATH]"), Reason
// says what is wrong with it. Render returns all such problems at once
// (errors.Join); errors.As finds the first.
type RenderError struct {
	Field  string
	Reason string
}

// Error returns "field: reason".
func (e *RenderError) Error() string { return e.Field + ": " + e.Reason }

// ParseError is one line of Slurm output that could not be parsed. It
// matches ErrMalformed with errors.Is.
type ParseError struct {
	Line   int // 1-based line number in the parsed output
	Text   string
	Reason string
}

// Error names the line, the reason and (a prefix of) the text.
func (e *ParseError) Error() string {
	t := e.Text
	if len(t) > 120 {
		t = t[:120] + "..."
	}
	return fmt.Sprintf("line %d: %s: %q", e.Line, e.Reason, t)
}

// Is makes errors.Is(err, ErrMalformed) true for every ParseError.
func (e *ParseError) Is(target error) bool { return target == ErrMalformed }
