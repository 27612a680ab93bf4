package slurm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"
)

// Ping asks the controller whether it is up (scontrol ping). It returns
// ErrUnavailable when the controller is down or does not answer in time.
func (c *Client) Ping(ctx context.Context) error {
	out, err := c.run(ctx, "", "scontrol", []string{"ping"}, nil)
	if err != nil {
		var ee *ExecError
		// scontrol ping exits non-zero and says "... is DOWN" on stdout.
		if errors.As(err, &ee) && !errors.Is(err, ErrUnavailable) && ee.ExitCode > 0 {
			return fmt.Errorf("scontrol ping: %w: %w", ErrUnavailable, err)
		}
		return err
	}
	if !strings.Contains(string(out), "is UP") {
		return fmt.Errorf("scontrol ping: %w: %q", ErrUnavailable, strings.TrimSpace(string(out)))
	}
	return nil
}

// jobIDRE is a plain job id, as sbatch --parsable prints it.
var jobIDRE = regexp.MustCompile(`^[0-9]+$`)

// Submit sends script on stdin to `sbatch --parsable`, run as the Unix user
// through the configured wrapper ("" runs it as the operator), and returns
// the new job's id. sbatch runs with TZ=UTC, so a --begin rendered by Render
// means the same instant whatever the gateway's zone. Errors: *RejectedError
// with sbatch's message when Slurm refuses the job; ErrUnavailable when the
// controller cannot be reached; ErrInvalidUser; an error matching
// ErrMalformed if sbatch succeeds but prints no job id; *ExecError otherwise.
func (c *Client) Submit(ctx context.Context, user string, script []byte) (JobID, error) {
	p, err := c.StartSubmit(ctx, user)
	if err != nil {
		return "", err
	}
	return p.Submit(script)
}

// PendingSubmit is an sbatch started before its script exists: the wrapper (runuser's PAM
// session) and sbatch's own start-up (configuration, plugins) run while the caller records what it
// is about to submit, which a start would otherwise wait for. No job can exist before Submit:
// sbatch reads the whole script from stdin before it contacts the controller. Call Submit or
// Abort, once; Abort after Submit does nothing.
type PendingSubmit struct {
	r     *running
	stdin io.WriteCloser
	done  bool
}

// StartSubmit starts `sbatch --parsable` as user (as Submit runs it), waiting for its script.
// Errors: ErrInvalidUser; a failure to start the command comes from Submit.
func (c *Client) StartSubmit(ctx context.Context, user string) (*PendingSubmit, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("sbatch: stdin pipe: %w", err)
	}
	r, err := c.start(ctx, user, "sbatch", []string{"--parsable"}, pr)
	pr.Close() // the child has its own copy
	if err != nil {
		pw.Close()
		return nil, err
	}
	return &PendingSubmit{r: r, stdin: pw}, nil
}

// Submit hands script to the waiting sbatch and returns the new job's id, with Submit's errors.
func (p *PendingSubmit) Submit(script []byte) (JobID, error) {
	if p.done {
		return "", errors.New("sbatch: submission already ended")
	}
	p.done = true
	// A write error (sbatch died at start-up: EPIPE) is not the story: its exit status and stderr
	// are, and wait reports them.
	_, _ = p.stdin.Write(script)
	p.stdin.Close()
	out, _, err := p.r.wait()
	if err != nil {
		return "", err
	}
	id, err := parseSbatch(out)
	if err != nil {
		return "", fmt.Errorf("sbatch: %w", err)
	}
	return id, nil
}

// Abort ends a submission that will not happen: sbatch is killed before it has a script, so no
// job is made.
func (p *PendingSubmit) Abort() {
	if p.done {
		return
	}
	p.done = true
	p.r.cancel() // kills it (exec.CommandContext)
	p.stdin.Close()
	_, _, _ = p.r.wait()
}

// parseSbatch reads sbatch --parsable output: the last non-empty line is
// "id" or "id;cluster".
func parseSbatch(out []byte) (JobID, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	id, _, _ := strings.Cut(last, ";")
	if !jobIDRE.MatchString(id) {
		return "", &ParseError{Line: len(lines), Text: last, Reason: "no job id"}
	}
	return JobID(id), nil
}

// Poll lists every job slurmctld holds, of all users and partitions, in one
// squeue call (recently ended jobs included, for MinJobAge). Callers filter
// by ID or Comment. Lines that do not parse are reported in an error
// matching ErrMalformed alongside the jobs that did (see ParseSqueue), so
// check the jobs even when err is non-nil and errors.Is(err, ErrMalformed).
func (c *Client) Poll(ctx context.Context) ([]JobStatus, error) {
	out, err := c.run(ctx, "", "squeue", []string{"--noheader", "--all", "--states=all", "--Format=" + SqueueFormat}, nil)
	if err != nil {
		return nil, err
	}
	jobs, err := ParseSqueue(out)
	if err != nil {
		return jobs, fmt.Errorf("squeue: %w", err)
	}
	return jobs, nil
}

// FindByComment returns the jobs whose comment is comment (the gateway's task
// id), so a job submitted just before a crash is found again. It returns
// ErrJobNotFound when none matches. Users can set any comment on their own
// jobs, so callers must check that a match belongs to the task's user (and
// treat more than one match as suspect).
func FindByComment(jobs []JobStatus, comment string) ([]JobStatus, error) {
	var found []JobStatus
	for _, j := range jobs {
		if j.Comment == comment {
			found = append(found, j)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("comment %q: %w", comment, ErrJobNotFound)
	}
	return found, nil
}

// Cancel cancels a pending or running job with scancel, as the Unix user
// through the wrapper, or as the operator when user is "". Errors:
// ErrJobNotFound for an id Slurm does not know (also a job that ended longer
// ago than MinJobAge), ErrAccessDenied when the user may not cancel it,
// ErrUnavailable. Cancelling a job that is already ending or ended (still
// known to slurmctld) is not an error: the wanted end is reached.
//
// scancel exits 0 even for an unknown id in 22.05 and only says why with
// --verbose, on stderr; Cancel reads that.
func (c *Client) Cancel(ctx context.Context, user string, id JobID) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	_, ee, err := c.runStderr(ctx, user, "scancel", []string{"--verbose", string(id)}, nil)
	if err != nil {
		if errors.Is(err, ErrJobNotPending) {
			return nil
		}
		return err
	}
	if !strings.Contains(ee.Stderr, "error:") {
		return nil
	}
	ee.Err = errors.New("scancel reported an error")
	if err := classify("scancel", ee); !errors.Is(err, ErrJobNotPending) {
		return err
	}
	return nil
}

// StartNow makes a job that waits for its begin time eligible at once
// (scontrol update jobid=ID StartTime=now), as the operator. Errors:
// ErrJobNotFound, ErrJobNotPending when the job already runs or ended,
// ErrUnavailable.
func (c *Client) StartNow(ctx context.Context, id JobID) error {
	if err := checkJobID(id); err != nil {
		return err
	}
	_, err := c.run(ctx, "", "scontrol", []string{"update", "jobid=" + string(id), "StartTime=now"}, nil)
	return err
}

var anyJobIDRE = regexp.MustCompile(`^[0-9]+(_[0-9]+)?$`)

func checkJobID(id JobID) error {
	if !anyJobIDRE.MatchString(string(id)) {
		return fmt.Errorf("job id %q: %w", id, ErrJobNotFound)
	}
	return nil
}

// AcctQuery selects sacct records: jobs that were in any state during
// [From, To) (sacct's own window semantics). Accounts and JobIDs narrow the
// query and are meant for finishing known active jobs (JobIDs are sent in
// chunks of maxIDs); usage history must be read by window alone.
type AcctQuery struct {
	From, To time.Time
	Accounts []string
	JobIDs   []JobID
}

// maxIDs caps the job ids of one sacct call: long -j lists keep slurmdbd
// busy for minutes.
const maxIDs = 200

// Accounting reads allocation records (-X, never steps) from sacct for all
// users over [q.From, q.To), one sacct call per window of at most MaxWindow
// (and per chunk of job ids). A job active across several windows is
// returned once: the record of the latest window wins. Errors:
// ErrUnavailable when slurmdbd cannot be reached; lines that do not parse
// give an error matching ErrMalformed together with the good records.
func (c *Client) Accounting(ctx context.Context, q AcctQuery) ([]AcctRecord, error) {
	if !q.From.Before(q.To) {
		return nil, fmt.Errorf("sacct: empty window %s..%s", q.From, q.To)
	}
	for _, id := range q.JobIDs {
		if err := checkJobID(id); err != nil {
			return nil, fmt.Errorf("sacct: %w", err)
		}
	}
	var all []AcctRecord
	var bad []error
	for from := q.From; from.Before(q.To); from = from.Add(c.cfg.MaxWindow) {
		to := from.Add(c.cfg.MaxWindow)
		if to.After(q.To) {
			to = q.To
		}
		for _, ids := range chunk(q.JobIDs, maxIDs) {
			recs, err := c.acctWindow(ctx, from, to, q.Accounts, ids)
			if err != nil && !errors.Is(err, ErrMalformed) {
				return nil, err
			}
			if err != nil {
				bad = append(bad, err)
			}
			all = append(all, recs...)
		}
	}
	all = dedupe(all)
	if err := errors.Join(bad...); err != nil {
		return all, fmt.Errorf("sacct: %w", err)
	}
	return all, nil
}

// acctWindow reads one window: the figures (SacctFormat), then the names and
// comments (SacctTextFormat) attached by job id, so that no user-written text
// can change a figure.
func (c *Client) acctWindow(ctx context.Context, from, to time.Time, accounts []string, ids []JobID) ([]AcctRecord, error) {
	out, err := c.run(ctx, "", "sacct", sacctArgs(SacctFormat, from, to, accounts, ids), nil)
	if err != nil {
		return nil, err
	}
	recs, recErr := ParseSacct(out)
	out, err = c.run(ctx, "", "sacct", sacctArgs(SacctTextFormat, from, to, accounts, ids), nil)
	if err != nil {
		return nil, err
	}
	texts, textErr := ParseSacctText(out)
	AttachText(recs, texts)
	return recs, errors.Join(recErr, textErr)
}

// AttachText sets the Name and Comment of each record from texts (the result
// of ParseSacctText), by job id; records without text keep empty ones.
func AttachText(recs []AcctRecord, texts map[JobID]JobText) {
	for i := range recs {
		t := texts[recs[i].ID]
		recs[i].Name, recs[i].Comment = t.Name, t.Comment
	}
}

// sacctArgs builds one sacct call over [from, to): sacct's -E is inclusive to
// the second, hence the second taken off.
func sacctArgs(format string, from, to time.Time, accounts []string, ids []JobID) []string {
	args := []string{"--allocations", "--parsable2", "--noheader", "--allusers",
		"--delimiter=" + Delimiter, "--format=" + format,
		"--starttime=" + BeginValue(from), "--endtime=" + BeginValue(to.Add(-time.Second))}
	if len(accounts) > 0 {
		args = append(args, "--accounts="+strings.Join(accounts, ","))
	}
	if len(ids) > 0 {
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = string(id)
		}
		args = append(args, "--jobs="+strings.Join(s, ","))
	}
	return args
}

// chunk splits ids into groups of at most n; no ids gives one empty group
// (one unfiltered call).
func chunk(ids []JobID, n int) [][]JobID {
	if len(ids) == 0 {
		return [][]JobID{nil}
	}
	var out [][]JobID
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	return append(out, ids)
}

// dedupe keeps the last record of each (job id, submit time): ids are unique
// per submit time even if Slurm's counter is reset.
func dedupe(recs []AcctRecord) []AcctRecord {
	type key struct {
		id     JobID
		submit time.Time
	}
	last := make(map[key]int, len(recs))
	for i, r := range recs {
		last[key{r.ID, r.Submit}] = i
	}
	out := recs[:0]
	for i, r := range recs {
		if last[key{r.ID, r.Submit}] == i {
			out = append(out, r)
		}
	}
	return out
}
