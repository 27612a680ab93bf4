package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// ReconcileStats counts the reconciler's work, for /metrics.
type ReconcileStats struct {
	Ticks          atomic.Int64
	Errors         atomic.Int64
	LastDurationNs atomic.Int64
	DurationSumNs  atomic.Int64
}

// accountingLag is how long a job that left the queue may take to appear in sacct before the
// gateway gives up waiting and settles the task with what it knows.
const accountingLag = time.Hour

// crashSuspectAge: a SUBMITTING task this old with no attempt recorded was left by a crash between
// writing the task and calling sbatch (or losing sbatch's answer); check accounting before
// submitting it again, since the queue forgets finished jobs after a few minutes.
const crashSuspectAge = 4 * time.Minute

// RunReconciler runs Reconcile every interval until ctx ends. It is the one loop that reads Slurm
// for all tasks, whatever the number of clients.
func (s *Service) RunReconciler(ctx context.Context, interval time.Duration) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if err := s.Reconcile(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("reconcile", slog.Any("error", err))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Stats returns the reconciler's counters.
func (s *Service) Stats() *ReconcileStats { return &s.stats }

// Reconcile reads the queue once for every unsettled task, moves tasks and containers to what
// Slurm says, submits tasks that wait for Slurm, and settles ended tasks from accounting. With
// nothing to follow it makes no Slurm call at all.
func (s *Service) Reconcile(ctx context.Context) error {
	start := time.Now()
	defer func() {
		d := time.Since(start).Nanoseconds()
		s.stats.Ticks.Add(1)
		s.stats.LastDurationNs.Store(d)
		s.stats.DurationSumNs.Add(d)
	}()
	tasks, err := s.store.UnsettledTasks(ctx)
	if err != nil {
		s.stats.Errors.Add(1)
		return fmt.Errorf("list unsettled tasks: %w", err)
	}
	if len(tasks) == 0 {
		return nil
	}
	queue, err := s.scheduler.Queue(ctx)
	if err != nil {
		s.stats.Errors.Add(1)
		s.retryWaiting(ctx, tasks) // they wait for Slurm anyway; record the attempt and its reason
		return fmt.Errorf("read the queue: %w", err)
	}
	byJob := make(map[string]JobStatus, len(queue))
	byComment := make(map[string]JobStatus, len(queue))
	for _, js := range queue {
		byJob[js.JobID] = js
		// Anyone can put any comment on their own job: only a job of the task's owner counts.
		if js.Comment != "" && js.User != "" {
			byComment[js.User+"\x00"+js.Comment] = js
		}
	}
	var unaccounted, changed []*Task
	notes := map[string]string{}
	for _, t := range tasks {
		switch {
		case t.State == TaskSubmitting:
			if s.inFlight(t.ID) {
				continue // its sbatch is running here; the request path records the job
			}
			if js, ok := byComment[t.Owner+"\x00"+t.ID]; ok {
				notes[t.ID] = s.adopt(t, js)
				s.applyQueued(t, js)
				changed = append(changed, t)
			} else if s.due(t) {
				s.resubmit(ctx, t)
			}
		case !t.State.Terminal():
			if js, ok := byJob[t.JobID]; ok {
				if s.applyQueued(t, js) {
					changed = append(changed, t)
				}
			} else {
				unaccounted = append(unaccounted, t)
			}
			if t.State == TaskRunning {
				s.logs.Follow(t)
			}
		case !t.Accounted:
			if js, ok := byJob[t.JobID]; ok && t.StopRequested && !js.State.Terminal() {
				s.cancelOrphan(ctx, t) // stopped while its sbatch was in flight, and still queued
			}
			unaccounted = append(unaccounted, t)
		default:
			s.sealLog(t)
		}
	}
	if err := s.saveTasks(ctx, changed, notes); err != nil {
		s.stats.Errors.Add(1)
		return err
	}
	return s.settle(ctx, unaccounted)
}

// sealLog seals the log of a settled task in the background (it waits for the file to stop
// growing, which must not hold up the poll), and records it. A task that never ran has no log.
// A failure (COS unreachable) is retried on a later tick.
func (s *Service) sealLog(t *Task) {
	if t.StartedAt == nil {
		s.markSealed(context.Background(), t.ID)
		return
	}
	if !s.claim("seal:" + t.ID) {
		return
	}
	s.sealing.Go(func() {
		defer s.release("seal:" + t.ID)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := s.logs.Seal(ctx, t); err != nil {
			s.log.Warn("seal log; will retry", slog.String("task", t.ID), slog.Any("error", err))
			return
		}
		s.markSealed(ctx, t.ID)
	})
}

// markSealed records that a task's log is sealed, on the stored task (which may have changed
// while its log was being sealed).
func (s *Service) markSealed(ctx context.Context, taskID string) {
	t, err := s.store.Task(ctx, taskID)
	if err != nil {
		s.log.Error("mark log sealed", slog.String("task", taskID), slog.Any("error", err))
		return
	}
	t.LogSealed, t.UpdatedAt = true, s.cfg.Now().UTC()
	if err := s.saveTask(ctx, t, ""); err != nil {
		s.log.Error("mark log sealed", slog.String("task", taskID), slog.Any("error", err))
	}
}

// WaitSealing waits for log seals in progress (at shutdown, after the reconciler has stopped).
func (s *Service) WaitSealing() { s.sealing.Wait() }

// due reports whether a SUBMITTING task should be (re)submitted now.
func (s *Service) due(t *Task) bool {
	now := s.cfg.Now()
	if t.NextAttemptAt != nil {
		return !now.Before(*t.NextAttemptAt)
	}
	// Never attempted: either the request path is submitting it right now (claimed), or the
	// gateway stopped between recording it and calling sbatch.
	return now.Sub(t.UpdatedAt) > 10*time.Second
}

// retryWaiting pushes back due SUBMITTING tasks when Slurm cannot even be polled.
func (s *Service) retryWaiting(ctx context.Context, tasks []*Task) {
	for _, t := range tasks {
		if t.State == TaskSubmitting && s.due(t) {
			s.resubmit(ctx, t)
		}
	}
}

// resubmit submits a SUBMITTING task again, after making sure an earlier attempt did not reach
// Slurm: a job carrying the task's id in accounting is adopted instead.
func (s *Service) resubmit(ctx context.Context, t *Task) {
	if s.cfg.Now().Sub(t.CreatedAt) > crashSuspectAge {
		recs, err := s.scheduler.Accounting(ctx, t.CreatedAt.Add(-time.Minute), s.cfg.Now().Add(time.Minute), nil)
		if err != nil {
			s.log.Warn("accounting check before resubmit", slog.String("task", t.ID), slog.Any("error", err))
			return
		}
		for _, js := range recs {
			if js.Comment == t.ID && js.User == t.Owner {
				note := s.adopt(t, js)
				if err := s.saveTasks(ctx, []*Task{t}, map[string]string{t.ID: note}); err != nil {
					s.log.Error("adopt job", slog.String("task", t.ID), slog.Any("error", err))
				}
				return
			}
		}
	}
	if err := s.submit(ctx, t); err != nil {
		s.log.Info("task refused by Slurm", slog.String("task", t.ID), slog.Any("error", err))
	}
}

// adopt attaches a job found by its comment (the task id) to a SUBMITTING task, in memory (the
// caller saves it, with the note returned for its history): the answer of an earlier sbatch was
// lost, but the job exists; it is never submitted twice.
func (s *Service) adopt(t *Task, js JobStatus) string {
	now := s.cfg.Now().UTC()
	t.JobID, t.NextAttemptAt, t.State = js.JobID, nil, TaskPending
	if !js.SubmitAt.IsZero() {
		at := js.SubmitAt.UTC()
		t.SubmittedAt = &at
	} else {
		t.SubmittedAt = &now
	}
	t.Reason, t.UpdatedAt = "", now
	return "found job " + js.JobID + " submitted earlier"
}

// applyQueued applies a queue record to t and reports whether its state, reason or times changed
// (then t.UpdatedAt is now).
func (s *Service) applyQueued(t *Task, js JobStatus) bool {
	changed := t.State != js.State || t.Reason != js.Reason
	t.State, t.Reason = js.State, js.Reason
	setTime(&t.EligibleAt, js.EligibleAt, &changed)
	setTime(&t.StartedAt, js.StartAt, &changed)
	if js.State.Terminal() {
		setTime(&t.EndedAt, js.EndAt, &changed)
		t.ExitCode, t.Signal = js.ExitCode, js.Signal
	}
	if changed {
		t.UpdatedAt = s.cfg.Now().UTC()
	}
	return changed
}

// setTime sets *dst to v when v is known and differs, and notes the change.
func setTime(dst **time.Time, v time.Time, changed *bool) {
	if v.IsZero() || (*dst != nil && (*dst).Equal(v)) {
		return
	}
	u := v.UTC()
	*dst = &u
	*changed = true
}

func (s *Service) cancelOrphan(ctx context.Context, t *Task) {
	if err := s.scheduler.Cancel(ctx, t.Owner, t.JobID); err != nil && ErrorCode(err) != CodeNotFound {
		s.log.Warn("cancel job of a stopped task", slog.String("task", t.ID), slog.String("job", t.JobID), slog.Any("error", err))
	}
}

// settle reads accounting once, over one bounded window covering the given tasks, and records
// their final state, times, exit code and usage.
func (s *Service) settle(ctx context.Context, tasks []*Task) error {
	if len(tasks) == 0 {
		return nil
	}
	now := s.cfg.Now()
	from, to := now, now
	var ids []string
	for _, t := range tasks {
		if t.JobID != "" {
			ids = append(ids, t.JobID)
		}
		at := t.CreatedAt
		if t.SubmittedAt != nil {
			at = *t.SubmittedAt
		}
		from = minTime(from, at)
		// A job cancelled while waiting for a future hour never became eligible; sacct only lists
		// it when the window reaches its begin time.
		to = maxTime(to, t.Begin)
	}
	if len(ids) == 0 {
		return nil
	}
	recs, err := s.scheduler.Accounting(ctx, from.Add(-time.Minute), to.Add(time.Minute), ids)
	if err != nil {
		s.stats.Errors.Add(1)
		return fmt.Errorf("read accounting: %w", err)
	}
	byJob := make(map[string]JobStatus, len(recs))
	for _, js := range recs {
		byJob[js.JobID] = js
	}
	var settled []*Task
	for _, t := range tasks {
		js, ok := byJob[t.JobID]
		switch {
		case ok && js.State.Terminal():
			s.finish(t, js)
			settled = append(settled, t)
		case !ok && now.Sub(t.UpdatedAt) > accountingLag:
			t.Accounted, t.UpdatedAt = true, now.UTC()
			if !t.State.Terminal() {
				t.State = TaskFailed
			}
			t.Reason = "no accounting record for job " + t.JobID + "; usage unknown"
			settled = append(settled, t)
		}
	}
	// One write for all (a task stopped meanwhile is settled on a later pass, with its stop).
	return s.saveTasks(ctx, settled, nil)
}

// finish applies a task's final accounting record (the caller saves it). A task stopped by its
// user stays CANCELLED.
func (s *Service) finish(t *Task, js JobStatus) {
	if !t.StopRequested {
		t.State = js.State
		t.Reason = js.Reason
	}
	var ignored bool
	setTime(&t.EligibleAt, js.EligibleAt, &ignored)
	setTime(&t.StartedAt, js.StartAt, &ignored)
	setTime(&t.EndedAt, js.EndAt, &ignored)
	t.ExitCode, t.Signal = js.ExitCode, js.Signal
	t.ApplyUsage(js.ElapsedSec, js.GPUs, js.CPUs)
	t.Accounted, t.UpdatedAt = true, s.cfg.Now().UTC()
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
