package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// StartContainer submits one task of an Inactive container: --begin is now for a manual schedule,
// the scheduled hour otherwise (refused, naming the earliest acceptable hour, when it has passed).
// The task is recorded before sbatch is called. When Slurm cannot be reached the start is still
// accepted: the task waits in SUBMITTING with the reason and is retried with backoff. When Slurm
// refuses the job, the task is recorded FAILED with Slurm's message and the error says why.
// With an idempotency key used before by p, it returns the task that first request started.
func (s *Service) StartContainer(ctx context.Context, p Principal, id, key string) (*Task, error) {
	c, err := s.GetContainer(ctx, p, id)
	if err != nil {
		return nil, err
	}
	key = callerKey(p, key)
	if key != "" {
		// A replayed start answers with its task even though the container is no longer Inactive.
		if t, ok, err := s.replayedStart(ctx, c, key); ok || err != nil {
			return t, err
		}
	}
	if _, err := c.State.Next(ActStart); err != nil {
		return nil, err
	}
	// sbatch starts now (through the user's wrapper) and waits for its script while the task is
	// prepared and recorded: a start waits for the slower of the two, not for both. If it cannot
	// begin, the plain submission below meets the same problem and reports it.
	sub, err := s.scheduler.BeginSubmit(context.WithoutCancel(ctx), c.Owner)
	if err == nil {
		defer sub.Abort() // unless submitted: no job without a recorded task
	} else {
		sub = nil
	}
	t, script, err := s.prepareTask(ctx, c)
	if err != nil {
		return nil, err
	}
	t.Script = string(script)
	// Claimed before the task exists: no other path (the reconciler's retries) can submit it, so
	// it goes to sbatch without being read back.
	s.claim(t.ID)
	defer s.release(t.ID)
	err = s.store.StartTask(ctx, c, t, key)
	var replay *ReplayError
	if errors.As(err, &replay) {
		return s.replayedTask(ctx, c, replay.ID)
	}
	if err != nil {
		return nil, err
	}
	c.State, c.CurrentTask = Ready, t.ID
	s.publishContainer(c, false)
	s.publishTask(t)
	if err := s.submitClaimed(ctx, t, sub); err != nil {
		return t, err
	}
	return t, nil
}

// replayedStart finds the task an earlier start with the same key made, through the store's
// idempotency record: StartTask with that key reports it without changing anything.
func (s *Service) replayedStart(ctx context.Context, c *Container, key string) (*Task, bool, error) {
	if c.State == Inactive {
		return nil, false, nil // StartTask itself detects a replay atomically
	}
	err := s.store.StartTask(ctx, c, &Task{}, key)
	var replay *ReplayError
	if errors.As(err, &replay) {
		t, err := s.replayedTask(ctx, c, replay.ID)
		return t, true, err
	}
	return nil, false, nil
}

// prepareTask builds the task and its exact batch script for one start of c, now.
func (s *Service) prepareTask(ctx context.Context, c *Container) (*Task, []byte, error) {
	now := s.cfg.Now().UTC()
	begin := now
	if c.Schedule.Kind == ScheduleAt {
		if c.Schedule.At == nil {
			return nil, nil, (&Problems{{Field: "schedule.at", Detail: "is missing"}}).Err("cannot start")
		}
		if msg := CheckScheduledHour(*c.Schedule.At, now, s.cfg.Location); msg != "" {
			return nil, nil, (&Problems{{Field: "schedule.at", Detail: "the scheduled hour " +
				c.Schedule.At.In(s.cfg.Location).Format(time.RFC3339) + " has passed or is not allowed: " + msg +
				"; update the container's schedule"}}).Err("cannot start the container at its scheduled hour")
		}
		begin = c.Schedule.At.UTC()
	}
	t := &Task{
		ID: newID("tsk"), ContainerID: c.ID, Project: c.Project, Owner: c.Owner, Flavor: c.Flavor,
		State: TaskSubmitting, Begin: begin, CreatedAt: now, UpdatedAt: now,
	}
	job, err := s.job(ctx, c, t)
	if err != nil {
		return nil, nil, err
	}
	script, err := s.scheduler.Script(job)
	if err != nil {
		return nil, nil, fmt.Errorf("render batch script: %w", err)
	}
	return t, script, nil
}

// job describes the Slurm job that runs task t of container c, and fills t's price and log path.
func (s *Service) job(ctx context.Context, c *Container, t *Task) (Job, error) {
	f, err := s.Flavor(c.Flavor)
	if err != nil {
		return Job{}, (&Problems{{Field: "flavor", Detail: fmt.Sprintf("%q is no longer offered; update the container", c.Flavor)}}).Err("cannot start")
	}
	img, err := s.images.Resolve(ctx, c.Image, c.Owner, s.userRoots(c.Owner))
	if err != nil {
		if code := ErrorCode(err); code == CodeInvalid || code == CodeNotFound {
			return Job{}, (&Problems{{Field: "image", Detail: messageOf(err)}}).Err("cannot start")
		}
		return Job{}, fmt.Errorf("resolve image: %w", err)
	}
	work := s.WorkDir(c.Owner)
	t.LogPath = s.logPath(c, t.ID)
	t.LogObject = LogObjectPrefix(c.Project, c.ID, t.ID)
	t.PricePerHour, t.Currency, t.GPUs, t.CPUs = f.PricePerHour, f.Currency, f.GPUs, f.CPUs
	argv, forward, err := s.images.Command(Run{
		Image: img.Path, Command: c.Command, Env: c.Env, Binds: s.userRoots(c.Owner), WorkDir: work, GPUs: f.GPUs,
	})
	if err != nil {
		return Job{}, fmt.Errorf("container command: %w", err)
	}
	return Job{
		Name: c.Name, Account: c.Project, Partition: f.Partition, GPUs: f.GPUs, GPUType: f.GPUType,
		CPUs: f.CPUs, MemoryMB: f.MemoryMB, TimeLimit: f.TimeLimit, Begin: t.Begin,
		WorkDir: work, Output: t.LogPath, Comment: t.ID, Command: argv, Forward: forward,
	}, nil
}

// Script returns the exact batch script a start of the container would submit now: the same
// renderer and the same inputs as StartContainer.
func (s *Service) Script(ctx context.Context, p Principal, id string) (string, error) {
	c, err := s.GetContainer(ctx, p, id)
	if err != nil {
		return "", err
	}
	if c.Schedule.Kind == ScheduleAt && c.Schedule.At != nil && c.Schedule.At.Before(NextWholeHour(s.cfg.Now(), s.cfg.Location)) {
		// Show the script anyway, for the hour as it stands; starting will ask for a new hour.
		at := *c.Schedule.At
		t := &Task{ID: "tsk_preview", Begin: at}
		job, err := s.job(ctx, c, t)
		if err != nil {
			return "", err
		}
		b, err := s.scheduler.Script(job)
		return string(b), err
	}
	_, script, err := s.prepareTask(ctx, c)
	return string(script), err
}

// submitBackoff is the wait before the next sbatch attempt after attempt n failed to reach Slurm.
func submitBackoff(n int) time.Duration {
	d := 2 * time.Second << min(n, 5)
	return min(d, time.Minute)
}

// submit calls sbatch for a SUBMITTING task, unless it is already in flight in this process.
// A returned error is the user's to see (Slurm refused the job); an unreachable Slurm is not an
// error: the task keeps waiting, with the reason, for the reconciler's next attempt.
func (s *Service) submit(ctx context.Context, t *Task) error {
	if !s.claim(t.ID) {
		return nil
	}
	defer s.release(t.ID)
	// Another path may have submitted it between our read and the claim.
	stored, err := s.store.Task(ctx, t.ID)
	if err != nil {
		return err
	}
	if stored.State != TaskSubmitting || stored.JobID != "" {
		*t = *stored
		return nil
	}
	return s.submitClaimed(ctx, t, nil)
}

// submitClaimed is submit for a SUBMITTING task without a job that the caller has claimed,
// through sub when the caller began one.
func (s *Service) submitClaimed(ctx context.Context, t *Task, sub Submission) error {
	// Submission must not be abandoned half-way because a client went away: sbatch is bounded by
	// its own timeout in the adapter.
	ctx = context.WithoutCancel(ctx)
	var jobID string
	err := s.logs.Prepare(ctx, t.Owner, t.LogPath)
	if err != nil && ErrorCode(err) == CodeInvalid {
		err = &Error{Code: CodeInvalid, Message: "the log directory cannot be made: " + messageOf(err), Cause: err}
	} else if err == nil && sub != nil {
		jobID, err = sub.Submit([]byte(t.Script))
	} else if err == nil {
		jobID, err = s.scheduler.Submit(ctx, t.Owner, []byte(t.Script))
	}
	now := s.cfg.Now().UTC()
	t.UpdatedAt = now
	switch {
	case err == nil:
		return s.submitted(ctx, t, jobID, now)
	case ErrorCode(err) == CodeInvalid:
		t.State, t.Reason, t.EndedAt, t.Accounted, t.NextAttemptAt = TaskFailed, "not submitted: "+messageOf(err), &now, true, nil
		if serr := s.saveTask(ctx, t, t.Reason); serr != nil {
			return serr
		}
		return &Error{Code: CodeInvalid, Message: "the task could not be submitted: " + messageOf(err), Cause: err}
	default:
		t.SubmitAttempts++
		next := now.Add(submitBackoff(t.SubmitAttempts))
		t.NextAttemptAt = &next
		t.Reason = "waiting for Slurm: " + messageOf(err)
		s.log.Warn("sbatch did not succeed; will retry", slog.String("task", t.ID), slog.Int("attempt", t.SubmitAttempts), slog.Any("error", err))
		return s.saveTask(ctx, t, "")
	}
}

// submitted records that Slurm accepted t as jobID. A task stopped while its sbatch was in flight
// keeps its CANCELLED state, and its new job is cancelled at once (the reconciler also cancels any
// job whose task has ended, should this cancel fail).
func (s *Service) submitted(ctx context.Context, t *Task, jobID string, now time.Time) error {
	pending := *t
	pending.JobID, pending.State, pending.Reason, pending.SubmittedAt, pending.NextAttemptAt = jobID, TaskPending, "", &now, nil
	if saved, err := s.saveTaskIf(ctx, &pending, "submitted as job "+jobID, true); err != nil || saved {
		if saved {
			*t = pending
		}
		return err
	}
	// Stopped while sbatch ran: the stop stands, the job is recorded and cancelled.
	stored, err := s.store.Task(ctx, t.ID)
	if err != nil {
		return err
	}
	stored.JobID, stored.SubmittedAt, stored.UpdatedAt, stored.Accounted = jobID, &now, now, false
	if err := s.saveTask(ctx, stored, "submitted as job "+jobID+" after the stop; cancelling it"); err != nil {
		return err
	}
	*t = *stored
	if err := s.scheduler.Cancel(ctx, t.Owner, jobID); err != nil && ErrorCode(err) != CodeNotFound {
		s.log.Warn("cancel of a job stopped during submission failed", slog.String("task", t.ID), slog.Any("error", err))
	}
	return nil
}

// inFlight reports whether taskID is claimed in this process (its sbatch is running).
func (s *Service) inFlight(taskID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.submitting[taskID]
}

func (s *Service) claim(taskID string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.submitting[taskID] {
		return false
	}
	s.submitting[taskID] = true
	return true
}

func (s *Service) release(taskID string) {
	s.mu.Lock()
	delete(s.submitting, taskID)
	s.mu.Unlock()
}

// saveTask stores t with a history event (the note, or else the task's reason) and publishes
// the change.
func (s *Service) saveTask(ctx context.Context, t *Task, note string) error {
	_, err := s.saveTaskIf(ctx, t, note, false)
	return err
}

// saveTaskIf is saveTask that, with unlessStopped, leaves a task stopped meanwhile as it is and
// reports false.
func (s *Service) saveTaskIf(ctx context.Context, t *Task, note string, unlessStopped bool) (bool, error) {
	ev := taskEvent(t)
	if note != "" {
		ev.Reason = note
	}
	saves := []TaskSave{{Task: t, Event: ev, UnlessStopped: unlessStopped}}
	if err := s.store.SaveTasks(ctx, saves); err != nil {
		return false, fmt.Errorf("save task %s: %w", t.ID, err)
	}
	if saves[0].Skipped {
		return false, nil
	}
	s.published(saves[0])
	return true, nil
}

// saveTasks stores several tasks' changes from Slurm in one write, then publishes them. A task
// its user stopped since it was read keeps its stop (and is settled, with it, on a later pass).
// A note for a task's id leads its history entry.
func (s *Service) saveTasks(ctx context.Context, tasks []*Task, notes map[string]string) error {
	if len(tasks) == 0 {
		return nil
	}
	saves := make([]TaskSave, len(tasks))
	for i, t := range tasks {
		ev := taskEvent(t)
		if note := notes[t.ID]; note != "" {
			ev.Reason = strings.TrimSuffix(note+"; "+t.Reason, "; ")
		}
		// A copy read before a stop must not undo it; one read after the stop carries it.
		saves[i] = TaskSave{Task: t, Event: ev, UnlessStopped: !t.StopRequested}
	}
	if err := s.store.SaveTasks(ctx, saves); err != nil {
		return fmt.Errorf("save %d tasks: %w", len(tasks), err)
	}
	for _, sv := range saves {
		if !sv.Skipped {
			s.published(sv)
		}
	}
	return nil
}

// taskEvent is the history entry of t's current state.
func taskEvent(t *Task) *TaskEvent {
	return &TaskEvent{TaskID: t.ID, At: t.UpdatedAt, State: t.State, Reason: t.Reason}
}

// published tells subscribers about a stored change of a task, and of its container when the
// store moved it with its current task.
func (s *Service) published(sv TaskSave) {
	s.publishTask(sv.Task)
	if sv.Container != nil {
		s.publishContainer(sv.Container, false)
	}
}

// StopContainer cancels the waiting or running task of a container. The task is CANCELLED at once
// and the container Inactive; its final times and usage come from accounting later.
func (s *Service) StopContainer(ctx context.Context, p Principal, id string) (*Task, error) {
	c, err := s.GetContainer(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if _, err := c.State.Next(ActStop); err != nil {
		return nil, err
	}
	t, err := s.store.Task(ctx, c.CurrentTask)
	if err != nil {
		return nil, err
	}
	if t.State.Terminal() {
		return t, nil
	}
	if t.JobID != "" {
		// Cancel as the job's owner: Slurm then records who cancelled it, and a user can only
		// ever cancel their own jobs.
		if err := s.scheduler.Cancel(ctx, t.Owner, t.JobID); err != nil && ErrorCode(err) != CodeNotFound {
			return nil, fmt.Errorf("cancel job %s: %w", t.JobID, err)
		}
	}
	now := s.cfg.Now().UTC()
	t.State, t.Reason, t.StopRequested, t.UpdatedAt, t.NextAttemptAt = TaskCancelled, "stopped by "+p.User, true, now, nil
	if t.EndedAt == nil {
		t.EndedAt = &now
	}
	if t.JobID == "" {
		t.Accounted = true // never reached Slurm: nothing to account
	}
	if err := s.saveTask(ctx, t, ""); err != nil {
		return nil, err
	}
	c.State = Inactive
	s.publishContainer(c, false)
	return t, nil
}

// RefreshContainer reads Slurm now (one reconcile pass for all followed tasks) and returns the
// container as it stands afterwards.
func (s *Service) RefreshContainer(ctx context.Context, p Principal, id string) (*Container, error) {
	if _, err := s.GetContainer(ctx, p, id); err != nil {
		return nil, err
	}
	if err := s.Reconcile(ctx); err != nil {
		return nil, &Error{Code: CodeUnavailable, Message: "could not read Slurm now; the state shown is the last one seen", Cause: err}
	}
	return s.GetContainer(ctx, p, id)
}

// PreviewScript returns the batch script a container with spec, owned by p, would submit if it
// were created and started now — without storing anything. It is the same validation and the same
// renderer as a real start, for users who read or submit the script by hand.
func (s *Service) PreviewScript(ctx context.Context, p Principal, spec ContainerSpec) (string, error) {
	if err := s.checkSpec(ctx, p, &spec); err != nil {
		return "", err
	}
	c := &Container{ID: "ctr_preview", Project: spec.Project, Owner: p.User, Name: spec.Name, Image: spec.Image,
		Flavor: spec.Flavor, Command: spec.Command, Env: spec.Env, Schedule: spec.Schedule, State: Inactive}
	_, script, err := s.prepareTask(ctx, c)
	return string(script), err
}
