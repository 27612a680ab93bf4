package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"batchgate/gateway"
	"batchgate/slurm"
)

// scheduler adapts the slurm package to the Service's Scheduler port: it translates the domain's
// Job into a JobSpec, Slurm's records into JobStatus, and Slurm's errors into domain codes.
type scheduler struct {
	client *slurm.Client
	loc    *time.Location
	log    *slog.Logger
	calls  slurmCalls
}

// slurmCalls counts Slurm commands run, for /metrics (and to show that subscribers add none).
type slurmCalls struct {
	submit, queue, acct, cancel, startNow, errors atomic.Int64
}

func (s *scheduler) Script(job gateway.Job) ([]byte, error) {
	spec := slurm.JobSpec{
		Name: job.Name, Account: job.Account, Partition: job.Partition, GPUs: job.GPUs, GPUType: job.GPUType,
		CPUsPerTask: job.CPUs, MemoryMB: job.MemoryMB, TimeLimit: job.TimeLimit, Begin: job.Begin,
		WorkDir: job.WorkDir, Output: job.Output, Comment: job.Comment, Command: job.Command,
	}
	for _, f := range job.Forward {
		spec.Forward = append(spec.Forward, slurm.Forward{Name: f.Name, From: f.From})
	}
	return slurm.Render(spec, s.loc)
}

func (s *scheduler) Submit(ctx context.Context, user string, script []byte) (string, error) {
	s.calls.submit.Add(1)
	id, err := s.client.Submit(ctx, user, script)
	return string(id), s.domainError(err)
}

func (s *scheduler) BeginSubmit(ctx context.Context, user string) (gateway.Submission, error) {
	p, err := s.client.StartSubmit(ctx, user)
	if err != nil {
		return nil, s.domainError(err)
	}
	return &submission{p: p, s: s}, nil
}

// submission adapts slurm.PendingSubmit to gateway.Submission.
type submission struct {
	p *slurm.PendingSubmit
	s *scheduler
}

func (sub *submission) Submit(script []byte) (string, error) {
	sub.s.calls.submit.Add(1)
	id, err := sub.p.Submit(script)
	return string(id), sub.s.domainError(err)
}

func (sub *submission) Abort() { sub.p.Abort() }

// Queue is one squeue call for every job. Lines that do not parse are logged and left out; the
// others are still used.
func (s *scheduler) Queue(ctx context.Context) ([]gateway.JobStatus, error) {
	s.calls.queue.Add(1)
	jobs, err := s.client.Poll(ctx)
	if err = s.keepParsed(err, jobs != nil, "squeue"); err != nil {
		return nil, s.domainError(err)
	}
	out := make([]gateway.JobStatus, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, gateway.JobStatus{
			JobID: string(j.ID), User: j.User, Comment: j.Comment, State: taskState(j.State), Reason: string(j.Reason),
			SubmitAt: j.Submit, EligibleAt: j.Eligible, StartAt: activeStart(j), GPUs: j.GPUs, CPUs: j.CPUs,
		})
	}
	return out, nil
}

// keepParsed lets a poll go on when only some lines of the command's output did not parse: the
// parsers return the good records with an error matching slurm.ErrMalformed, which is logged.
func (s *scheduler) keepParsed(err error, haveRecords bool, command string) error {
	if err != nil && errors.Is(err, slurm.ErrMalformed) && haveRecords {
		s.log.Warn(command+" lines left out", slog.Any("error", err))
		return nil
	}
	return err
}

// activeStart is the job's real start: for a pending job squeue's start is only a forecast.
func activeStart(j slurm.JobStatus) time.Time {
	if j.State == slurm.StatePending {
		return time.Time{}
	}
	return j.Start
}

func (s *scheduler) Accounting(ctx context.Context, from, to time.Time, jobIDs []string) ([]gateway.JobStatus, error) {
	s.calls.acct.Add(1)
	q := slurm.AcctQuery{From: from, To: to}
	for _, id := range jobIDs {
		q.JobIDs = append(q.JobIDs, slurm.JobID(id))
	}
	return s.accounting(ctx, q)
}

// UsageRecords reads every job of accounts active in [from, to), of all users, for the usage
// ledger (gateway.UsageSource).
func (s *scheduler) UsageRecords(ctx context.Context, from, to time.Time, accounts []string) ([]gateway.JobStatus, error) {
	s.calls.acct.Add(1)
	return s.accounting(ctx, slurm.AcctQuery{From: from, To: to, Accounts: accounts})
}

// accounting runs q and maps the records. Lines that do not parse are logged and left out.
func (s *scheduler) accounting(ctx context.Context, q slurm.AcctQuery) ([]gateway.JobStatus, error) {
	recs, err := s.client.Accounting(ctx, q)
	if err = s.keepParsed(err, recs != nil, "sacct"); err != nil {
		return nil, s.domainError(err)
	}
	out := make([]gateway.JobStatus, 0, len(recs))
	for _, r := range recs {
		out = append(out, AcctStatus(r))
	}
	return out, nil
}

// AcctStatus maps one sacct allocation record onto the domain's JobStatus (also for benchmarks
// that read sacct without a daemon).
func AcctStatus(r slurm.AcctRecord) gateway.JobStatus {
	exit, sig := r.ExitCode, r.Signal
	js := gateway.JobStatus{
		JobID: string(r.ID), User: r.User, Comment: r.Comment, State: taskState(r.State),
		Account: r.Account, Partition: r.Partition, Name: r.Name,
		SubmitAt: r.Submit, EligibleAt: r.Eligible, StartAt: r.Start, EndAt: r.End,
		ExitCode: &exit, Signal: &sig, GPUs: r.GPUs, CPUs: r.CPUs, ElapsedSec: r.Elapsed, Final: r.State.Terminal(),
	}
	if r.CancelledBy != "" {
		js.Reason = "cancelled by uid " + r.CancelledBy
	}
	return js
}

func (s *scheduler) Cancel(ctx context.Context, user, jobID string) error {
	s.calls.cancel.Add(1)
	return s.domainError(s.client.Cancel(ctx, user, slurm.JobID(jobID)))
}

func (s *scheduler) StartNow(ctx context.Context, jobID string) error {
	s.calls.startNow.Add(1)
	return s.domainError(s.client.StartNow(ctx, slurm.JobID(jobID)))
}

// domainError maps Slurm's errors onto the domain's codes. Anything unexpected counts as
// "unavailable": the caller retries, after checking whether the job reached Slurm after all.
func (s *scheduler) domainError(err error) error {
	if err == nil {
		return nil
	}
	s.calls.errors.Add(1)
	var rejected *slurm.RejectedError
	switch {
	case errors.As(err, &rejected):
		return &gateway.Error{Code: gateway.CodeInvalid, Message: rejected.Message, Cause: err}
	case errors.Is(err, slurm.ErrJobNotFound):
		return &gateway.Error{Code: gateway.CodeNotFound, Message: "Slurm does not know the job", Cause: err}
	case errors.Is(err, slurm.ErrAccessDenied):
		return &gateway.Error{Code: gateway.CodeForbidden, Message: "Slurm refused: not the job's owner", Cause: err}
	case errors.Is(err, slurm.ErrInvalidUser):
		return &gateway.Error{Code: gateway.CodeInvalid, Message: "not a valid Unix login", Cause: err}
	}
	return &gateway.Error{Code: gateway.CodeUnavailable, Message: "Slurm did not answer", Cause: err}
}

// taskState maps Slurm's closed set of job states onto the task states.
func taskState(st slurm.State) gateway.TaskState {
	switch st {
	case slurm.StatePending, slurm.StateRequeued, slurm.StateRequeueFed, slurm.StateRequeueHold, slurm.StateResvDelHold:
		return gateway.TaskPending
	case slurm.StateRunning, slurm.StateSuspended, slurm.StateCompleting, slurm.StateConfiguring, slurm.StateResizing,
		slurm.StateSignaling, slurm.StateStageOut, slurm.StateStopped:
		return gateway.TaskRunning
	case slurm.StateCompleted:
		return gateway.TaskCompleted
	case slurm.StateCancelled, slurm.StateRevoked:
		return gateway.TaskCancelled
	case slurm.StateTimeout:
		return gateway.TaskTimeout
	case slurm.StateOutOfMemory:
		return gateway.TaskOutOfMemory
	case slurm.StateNodeFail:
		return gateway.TaskNodeFail
	case slurm.StatePreempted:
		return gateway.TaskPreempted
	case slurm.StateBootFail:
		return gateway.TaskBootFail
	case slurm.StateDeadline:
		return gateway.TaskDeadline
	}
	return gateway.TaskFailed // FAILED, SPECIAL_EXIT
}

// writeMetrics writes the Slurm call counters in the Prometheus text format.
func (s *scheduler) writeMetrics(w io.Writer) {
	fmt.Fprintln(w, "# HELP batchgate_slurm_calls_total Slurm commands run, by command.")
	fmt.Fprintln(w, "# TYPE batchgate_slurm_calls_total counter")
	for _, c := range []struct {
		name string
		n    *atomic.Int64
	}{{"sacct", &s.calls.acct}, {"sbatch", &s.calls.submit}, {"scancel", &s.calls.cancel},
		{"scontrol_update", &s.calls.startNow}, {"squeue", &s.calls.queue}} {
		fmt.Fprintf(w, "batchgate_slurm_calls_total{command=%q} %d\n", c.name, c.n.Load())
	}
	fmt.Fprintln(w, "# HELP batchgate_slurm_errors_total Slurm commands that failed.")
	fmt.Fprintln(w, "# TYPE batchgate_slurm_errors_total counter")
	fmt.Fprintf(w, "batchgate_slurm_errors_total %d\n", s.calls.errors.Load())
}
