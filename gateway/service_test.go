package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/gatewaytest"
	"batchgate/gateway/sqlite"
)

type harness struct {
	svc   *gateway.Service
	slurm *gatewaytest.Scheduler
	clock *gatewaytest.Clock
	store *sqlite.DB
}

var (
	alice = gateway.Principal{User: "alice", Projects: map[string]gateway.Role{"vision": gateway.RoleMember}}
	bob   = gateway.Principal{User: "bob", Projects: map[string]gateway.Role{"vision": gateway.RoleMember}}
	carol = gateway.Principal{User: "carol", Projects: map[string]gateway.Role{"speech": gateway.RoleAdmin}}
)

func newHarness(t *testing.T) *harness {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "batchgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &gatewaytest.Clock{T: time.Date(2026, 12, 4, 16, 25, 0, 0, time.UTC)}
	sched := gatewaytest.NewScheduler()
	svc := gateway.NewService(gateway.Config{
		Location: time.UTC,
		Flavors: []gateway.Flavor{{Name: "gpu-2", GPUs: 2, CPUs: 2, MemoryMB: 4000, Partition: "gpu",
			TimeLimit: 2 * time.Hour, PricePerHour: 5, Currency: "USD"}},
		HomeTemplate: "/hfs/home/{user}", WorkTemplate: "/hfs/work/{user}", LogDirTemplate: "{work}/.batchgate/logs",
		Now: clk.Now,
	}, db, sched, gatewaytest.Images{}, gatewaytest.Logs{}, gateway.NewBroker(100), slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &harness{svc: svc, slurm: sched, clock: clk, store: db}
}

func (h *harness) create(t *testing.T, p gateway.Principal, mod func(*gateway.ContainerSpec)) *gateway.Container {
	t.Helper()
	spec := gateway.ContainerSpec{Project: "vision", Name: "train", Image: "pytorch", Flavor: "gpu-2", Command: "python train.py"}
	if p.User == "carol" {
		spec.Project = "speech"
	}
	if mod != nil {
		mod(&spec)
	}
	c, err := h.svc.CreateContainer(context.Background(), p, spec, "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return c
}

func TestCreateStartRunFinish(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	if c.State != gateway.Inactive {
		t.Fatalf("new container is %s, want Inactive", c.State)
	}
	task, err := h.svc.StartContainer(ctx, alice, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if task.State != gateway.TaskPending || task.JobID == "" || h.slurm.Submits[0] != "alice" {
		t.Fatalf("after start: task %s job %q submits %v", task.State, task.JobID, h.slurm.Submits)
	}
	if !strings.Contains(task.Script, "--comment="+task.ID) || !strings.Contains(task.Script, "--account=vision") {
		t.Errorf("script does not carry the task id and project:\n%s", task.Script)
	}
	if got, _ := h.svc.GetContainer(ctx, alice, c.ID); got.State != gateway.Ready {
		t.Fatalf("container %s, want Ready", got.State)
	}

	started := h.clock.Now().Add(time.Minute)
	h.slurm.Set(task.JobID, gateway.JobStatus{State: gateway.TaskRunning, Reason: "None", StartAt: started})
	if err := h.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.svc.GetContainer(ctx, alice, c.ID); got.State != gateway.Running {
		t.Fatalf("container %s, want Running", got.State)
	}

	exit := 0
	h.slurm.Set(task.JobID, gateway.JobStatus{State: gateway.TaskCompleted, Final: true, StartAt: started,
		EndAt: started.Add(90 * time.Minute), ElapsedSec: 5400, GPUs: 2, CPUs: 2, ExitCode: &exit})
	if err := h.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := h.svc.GetTask(ctx, alice, task.ID)
	if got.State != gateway.TaskCompleted || !got.Accounted || got.ExitCode == nil || *got.ExitCode != 0 {
		t.Fatalf("finished task: %+v", got)
	}
	if got.GPUHours != 3 || got.CPUHours != 3 || got.Cost != 7.5 {
		t.Errorf("usage: gpu_h=%v cpu_h=%v cost=%v, want 3, 3, 7.5", got.GPUHours, got.CPUHours, got.Cost)
	}
	if ctr, _ := h.svc.GetContainer(ctx, alice, c.ID); ctr.State != gateway.Inactive {
		t.Fatalf("container %s after the task ended, want Inactive", ctr.State)
	}
	history, err := h.svc.TaskHistory(ctx, alice, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, ev := range history {
		states = append(states, string(ev.State))
	}
	if want := "SUBMITTING PENDING RUNNING COMPLETED"; !strings.HasPrefix(strings.Join(compact(states), " "), want) {
		t.Errorf("history %v, want %s", states, want)
	}
}

// compact drops consecutive repeats.
func compact(s []string) []string {
	var out []string
	for _, x := range s {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

func TestStartWhileSlurmIsDownWaitsAndSubmitsOnce(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	h.slurm.Down = true
	task, err := h.svc.StartContainer(ctx, alice, c.ID, "")
	if err != nil {
		t.Fatalf("a start while Slurm is down is accepted, got %v", err)
	}
	if task.State != gateway.TaskSubmitting || !strings.Contains(task.Reason, "waiting for Slurm") {
		t.Fatalf("task %s %q, want SUBMITTING waiting for Slurm", task.State, task.Reason)
	}
	// Still down: the retry is recorded, nothing reaches Slurm.
	h.clock.Add(time.Minute)
	_ = h.svc.Reconcile(ctx)
	h.slurm.Down = false
	h.clock.Add(2 * time.Minute)
	for range 3 {
		if err := h.svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.slurm.Submitted(); n != 1 {
		t.Fatalf("%d submissions, want exactly 1", n)
	}
	got, _ := h.svc.GetTask(ctx, alice, task.ID)
	if got.State != gateway.TaskPending || got.JobID == "" {
		t.Fatalf("task %s job %q after Slurm came back", got.State, got.JobID)
	}
}

func TestLostSbatchAnswerIsAdoptedNotResubmitted(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	h.slurm.LoseAnswer = true
	task, err := h.svc.StartContainer(ctx, alice, c.ID, "")
	if err != nil || task.State != gateway.TaskSubmitting {
		t.Fatalf("start: %v %v", task, err)
	}
	h.slurm.LoseAnswer = false
	h.clock.Add(5 * time.Minute)
	for range 3 {
		if err := h.svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.slurm.Submitted(); n != 1 {
		t.Fatalf("%d submissions, want 1: the job was found by its comment", n)
	}
	got, _ := h.svc.GetTask(ctx, alice, task.ID)
	if got.JobID != "101" || got.State != gateway.TaskPending {
		t.Fatalf("task job %q state %s, want the adopted job 101, PENDING", got.JobID, got.State)
	}
	history, err := h.svc.TaskHistory(ctx, alice, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := history[len(history)-1]
	if last.State != gateway.TaskPending || last.Reason != "found job 101 submitted earlier; BeginTime" {
		t.Fatalf("history ends with %s %q, want PENDING with the adoption and Slurm's reason", last.State, last.Reason)
	}
}

func TestSlurmRefusalFailsTheTaskWithItsMessage(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	h.slurm.Reject = "Invalid account or account/partition combination specified"
	task, err := h.svc.StartContainer(ctx, alice, c.ID, "")
	if gateway.ErrorCode(err) != gateway.CodeInvalid || !strings.Contains(err.Error(), "Invalid account") {
		t.Fatalf("error %v, want invalid with Slurm's message", err)
	}
	if task.State != gateway.TaskFailed {
		t.Fatalf("task %s, want FAILED", task.State)
	}
	if ctr, _ := h.svc.GetContainer(ctx, alice, c.ID); ctr.State != gateway.Inactive {
		t.Fatalf("container %s, want Inactive again", ctr.State)
	}
}

func TestStopCancelsAndReturnsToInactive(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	task, _ := h.svc.StartContainer(ctx, alice, c.ID, "")
	if _, err := h.svc.StopContainer(ctx, bob, c.ID); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("bob (a member) stopping alice's container: %v, want not found", err)
	}
	stopped, err := h.svc.StopContainer(ctx, alice, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.State != gateway.TaskCancelled || len(h.slurm.Cancelled) != 1 || h.slurm.Cancelled[0] != task.JobID {
		t.Fatalf("stop: task %s, cancelled %v", stopped.State, h.slurm.Cancelled)
	}
	if ctr, _ := h.svc.GetContainer(ctx, alice, c.ID); ctr.State != gateway.Inactive {
		t.Fatalf("container %s after stop", ctr.State)
	}
	if _, err := h.svc.StopContainer(ctx, alice, c.ID); gateway.ErrorCode(err) != gateway.CodeConflict {
		t.Fatalf("second stop: %v, want conflict", err)
	}
	// Accounting later settles it; it stays CANCELLED.
	h.slurm.Set(task.JobID, gateway.JobStatus{State: gateway.TaskCancelled, Final: true})
	if err := h.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := h.svc.GetTask(ctx, alice, task.ID)
	if !got.Accounted || got.State != gateway.TaskCancelled || got.GPUHours != 0 {
		t.Fatalf("settled stopped task: %+v", got)
	}
}

// A stop that arrives while the start's sbatch is in flight stands: the task stays CANCELLED, the
// job Slurm accepted is recorded on it and cancelled, and the container is Inactive.
func TestStopWhileSbatchIsInFlight(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	h.slurm.BeforeSubmit = func() {
		h.slurm.BeforeSubmit = nil
		if _, err := h.svc.StopContainer(ctx, alice, c.ID); err != nil {
			t.Errorf("stop during sbatch: %v", err)
		}
	}
	task, err := h.svc.StartContainer(ctx, alice, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := h.svc.GetTask(ctx, alice, task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.State != gateway.TaskCancelled || stored.JobID == "" || !stored.StopRequested {
		t.Fatalf("task after a stop during sbatch: state %s, job %q, stop requested %v", stored.State, stored.JobID, stored.StopRequested)
	}
	if task.State != gateway.TaskCancelled || task.JobID != stored.JobID {
		t.Fatalf("start answered %s with job %q, the store has %s with %q", task.State, task.JobID, stored.State, stored.JobID)
	}
	if len(h.slurm.Cancelled) != 1 || h.slurm.Cancelled[0] != stored.JobID {
		t.Fatalf("cancelled %v, want job %s", h.slurm.Cancelled, stored.JobID)
	}
	if ctr, _ := h.svc.GetContainer(ctx, alice, c.ID); ctr.State != gateway.Inactive {
		t.Fatalf("container %s, want Inactive", ctr.State)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	spec := gateway.ContainerSpec{Project: "vision", Name: "once", Image: "pytorch", Flavor: "gpu-2", Command: "true"}
	a, err := h.svc.CreateContainer(ctx, alice, spec, "k1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.svc.CreateContainer(ctx, alice, spec, "k1")
	if err != nil || b.ID != a.ID {
		t.Fatalf("replayed create: %v %v, want the first container %s", b, err, a.ID)
	}
	t1, err := h.svc.StartContainer(ctx, alice, a.ID, "s1")
	if err != nil {
		t.Fatal(err)
	}
	t2, err := h.svc.StartContainer(ctx, alice, a.ID, "s1")
	if err != nil || t2.ID != t1.ID || h.slurm.Submitted() != 1 {
		t.Fatalf("replayed start: %v %v, submits %d", t2, err, h.slurm.Submitted())
	}
}

func TestConcurrentStartsSubmitOnce(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conflicts := 0
	for range 20 {
		wg.Go(func() {
			_, err := h.svc.StartContainer(ctx, alice, c.ID, "")
			if gateway.ErrorCode(err) == gateway.CodeConflict {
				mu.Lock()
				conflicts++
				mu.Unlock()
			} else if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if h.slurm.Submitted() != 1 || conflicts != 19 {
		t.Fatalf("submits %d conflicts %d, want 1 and 19", h.slurm.Submitted(), conflicts)
	}
}

func TestScheduledHourRules(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	at := time.Date(2026, 12, 4, 17, 0, 0, 0, time.UTC) // the next whole hour
	c := h.create(t, alice, func(s *gateway.ContainerSpec) {
		s.Schedule = gateway.Schedule{Kind: gateway.ScheduleAt, At: &at}
	})
	task, err := h.svc.StartContainer(ctx, alice, c.ID, "")
	if err != nil || !task.Begin.Equal(at) {
		t.Fatalf("start at %s: %v, begin %v", at, err, task.Begin)
	}
	_, _ = h.svc.StopContainer(ctx, alice, c.ID)
	// The hour passes: starting again is refused and names the earliest hour.
	h.clock.Add(time.Hour)
	_, err = h.svc.StartContainer(ctx, alice, c.ID, "")
	if gateway.ErrorCode(err) != gateway.CodeInvalid || !strings.Contains(err.Error(), "2026-12-04T18:00:00Z") {
		t.Fatalf("start after the hour passed: %v, want invalid naming 18:00", err)
	}
	// The refused start had begun its sbatch (it starts while the task is prepared): it was
	// abandoned without a script, and nothing more was submitted.
	if h.slurm.Submitted() != 1 || h.slurm.Aborted != 1 {
		t.Fatalf("after a refused start: %d submissions, %d aborted, want 1 and 1", h.slurm.Submitted(), h.slurm.Aborted)
	}
}

func TestCreateReportsUnknownFlavorImageAndProject(t *testing.T) {
	h := newHarness(t)
	_, err := h.svc.CreateContainer(context.Background(), alice, gateway.ContainerSpec{
		Project: "speech", Name: "x", Image: "/etc/passwd", Flavor: "huge", Command: "true"}, "")
	var ge *gateway.Error
	if !asError(err, &ge) || ge.Code != gateway.CodeInvalid {
		t.Fatalf("error %v, want invalid", err)
	}
	fields := map[string]bool{}
	for _, f := range ge.Fields {
		fields[f.Field] = true
	}
	for _, want := range []string{"project", "flavor", "image"} {
		if !fields[want] {
			t.Errorf("no problem for %s in %v", want, ge.Fields)
		}
	}
}

func TestOtherProjectsSeeNothing(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	if _, err := h.svc.GetContainer(ctx, carol, c.ID); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("carol sees alice's container: %v", err)
	}
	page, _, err := h.svc.ListContainers(ctx, carol, gateway.ContainerFilter{})
	if err != nil || len(page) != 0 {
		t.Fatalf("carol's list: %d items, %v", len(page), err)
	}
}

func TestIdleReconcileMakesNoSlurmCall(t *testing.T) {
	h := newHarness(t)
	h.create(t, alice, nil)
	for range 5 {
		if err := h.svc.Reconcile(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if h.slurm.QueueCalls != 0 {
		t.Fatalf("%d queue calls with nothing to follow, want 0", h.slurm.QueueCalls)
	}
}

func asError(err error, target **gateway.Error) bool {
	e, ok := err.(*gateway.Error)
	if ok {
		*target = e
	}
	return ok
}

// TestForgedCommentIsNotAdopted: anyone may put any comment on their own job; a job of another
// user carrying a task's id must not be taken for that task's.
func TestForgedCommentIsNotAdopted(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	h.slurm.Down = true
	task, _ := h.svc.StartContainer(ctx, alice, c.ID, "")
	h.slurm.Down = false
	h.slurm.Forge("999", "mallory", task.ID)
	h.clock.Add(time.Minute)
	if err := h.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := h.svc.GetTask(ctx, alice, task.ID)
	if got.JobID == "999" || got.JobID == "" || h.slurm.Submitted() != 1 {
		t.Fatalf("task took job %q (%d submissions); want its own submission, not mallory's job", got.JobID, h.slurm.Submitted())
	}
}
