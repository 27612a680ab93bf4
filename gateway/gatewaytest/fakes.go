// Package gatewaytest holds hand-written fakes of the Service's ports, for unit tests of the
// gateway and its HTTP API. Integration tests never use them.
package gatewaytest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"batchgate/gateway"
)

// Scheduler is a hand-written Slurm: a queue in memory, accounting records, and switches for
// the failures the Service must survive.
type Scheduler struct {
	mu        sync.Mutex
	nextJob   int
	Submits   []string // users, one per sbatch call that reached "Slurm"
	queue     map[string]gateway.JobStatus
	acct      map[string]gateway.JobStatus
	Cancelled []string
	Aborted   int // submissions begun and abandoned without a script
	// down makes every call fail as if slurmctld were unreachable; loseAnswer accepts the job but
	// reports a timeout (the answer was lost); reject refuses jobs with a message.
	Down, LoseAnswer bool
	Reject           string
	QueueCalls       int
	// BeforeSubmit, when set, runs at the start of every Submit (outside the fake's lock): what
	// happens while an sbatch is in flight.
	BeforeSubmit func()
}

func NewScheduler() *Scheduler {
	return &Scheduler{nextJob: 100, queue: map[string]gateway.JobStatus{}, acct: map[string]gateway.JobStatus{}}
}

var ErrDown = &gateway.Error{Code: gateway.CodeUnavailable, Message: "slurmctld not responding"}

func (f *Scheduler) Script(job gateway.Job) ([]byte, error) {
	return fmt.Appendf(nil, "#!/bin/bash\n#SBATCH --comment=%s\n#SBATCH --account=%s\n#SBATCH --begin=%s\n%s\n",
		job.Comment, job.Account, job.Begin.UTC().Format(time.RFC3339), strings.Join(job.Command, " ")), nil
}

func (f *Scheduler) Submit(_ context.Context, user string, script []byte) (string, error) {
	if f.BeforeSubmit != nil {
		f.BeforeSubmit()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Down {
		return "", ErrDown
	}
	if f.Reject != "" {
		return "", &gateway.Error{Code: gateway.CodeInvalid, Message: f.Reject}
	}
	f.nextJob++
	id := fmt.Sprint(f.nextJob)
	comment := strings.TrimPrefix(strings.Split(string(script), "\n")[1], "#SBATCH --comment=")
	f.Submits = append(f.Submits, user)
	f.queue[id] = gateway.JobStatus{JobID: id, User: user, Comment: comment, State: gateway.TaskPending, Reason: "BeginTime"}
	if f.LoseAnswer {
		return "", ErrDown
	}
	return id, nil
}

// BeginSubmit returns a Submission whose Submit is f.Submit; Aborted counts the aborted ones.
func (f *Scheduler) BeginSubmit(ctx context.Context, user string) (gateway.Submission, error) {
	return &submission{f: f, ctx: ctx, user: user}, nil
}

type submission struct {
	f    *Scheduler
	ctx  context.Context
	user string
	done bool
}

func (s *submission) Submit(script []byte) (string, error) {
	if s.done {
		return "", fmt.Errorf("submission already ended")
	}
	s.done = true
	return s.f.Submit(s.ctx, s.user, script)
}

func (s *submission) Abort() {
	if s.done {
		return
	}
	s.done = true
	s.f.mu.Lock()
	s.f.Aborted++
	s.f.mu.Unlock()
}

func (f *Scheduler) Queue(context.Context) ([]gateway.JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.QueueCalls++
	if f.Down {
		return nil, ErrDown
	}
	var out []gateway.JobStatus
	for _, js := range f.queue {
		out = append(out, js)
	}
	return out, nil
}

func (f *Scheduler) Accounting(_ context.Context, from, to time.Time, _ []string) ([]gateway.JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gateway.JobStatus
	for _, js := range f.acct {
		out = append(out, js)
	}
	return out, nil
}

func (f *Scheduler) Cancel(_ context.Context, user, jobID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Cancelled = append(f.Cancelled, jobID)
	delete(f.queue, jobID)
	return nil
}

func (f *Scheduler) StartNow(context.Context, string) error { return nil }

// Set moves a job in the fake queue (or out of it, into accounting, when final).
func (f *Scheduler) Set(jobID string, js gateway.JobStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	js.JobID = jobID
	if js.Final {
		delete(f.queue, jobID)
		f.acct[jobID] = js
		return
	}
	js.Comment, js.User = f.queue[jobID].Comment, f.queue[jobID].User
	f.queue[jobID] = js
}

func (f *Scheduler) Submitted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.Submits)
}

// Images knows one catalog image, "pytorch", and accepts paths inside the user's roots.
type Images struct{}

func (Images) List(context.Context) ([]gateway.Image, error) {
	return []gateway.Image{{Name: "pytorch", Path: "/hfs/images/pytorch.sif", Type: "sif"}}, nil
}

func (Images) Resolve(_ context.Context, ref, user string, roots []string) (gateway.Image, error) {
	if ref == "pytorch" {
		return gateway.Image{Name: ref, Path: "/hfs/images/pytorch.sif"}, nil
	}
	for _, r := range roots {
		if strings.HasPrefix(ref, r+"/") {
			return gateway.Image{Name: filepath.Base(ref), Path: ref}, nil
		}
	}
	return gateway.Image{}, gateway.Errorf(gateway.CodeInvalid, "image %q is neither in the catalog nor in your HFS directories", ref)
}

func (Images) Command(r gateway.Run) ([]string, []gateway.Forward, error) {
	return []string{"apptainer", "-q", "exec", r.Image, "/bin/sh", "-c", r.Command}, nil, nil
}

// Logs makes no directories and keeps no logs: every task's log is empty and sealed at once.
type Logs struct{}

func (Logs) Prepare(context.Context, string, string) error { return nil }
func (Logs) Follow(*gateway.Task)                          {}
func (Logs) Seal(context.Context, *gateway.Task) error     { return nil }
func (Logs) Tail(context.Context, *gateway.Task, int64) ([]byte, error) {
	return nil, gateway.Errorf(gateway.CodeNotFound, "no log")
}
func (Logs) Stream(context.Context, *gateway.Task, int64, func(int64, []byte) error) error {
	return nil
}
func (Logs) DownloadURL(context.Context, *gateway.Task, time.Duration) (string, error) {
	return "", gateway.Errorf(gateway.CodeConflict, "not sealed")
}

// Clock is a settable time source.
type Clock struct {
	mu sync.Mutex
	T  time.Time
}

func (c *Clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.T }
func (c *Clock) Add(d time.Duration) { c.mu.Lock(); c.T = c.T.Add(d); c.mu.Unlock() }

// Forge puts a job of user carrying comment in the queue, as any user could with sbatch --comment.
func (f *Scheduler) Forge(jobID, user, comment string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue[jobID] = gateway.JobStatus{JobID: jobID, User: user, Comment: comment, State: gateway.TaskPending}
}
