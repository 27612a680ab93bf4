package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/sqlite"
)

// fakeScheduler is a hand-written Slurm: a queue in memory, accounting records, and switches for
// the failures the Service must survive.
type fakeScheduler struct {
	mu        sync.Mutex
	nextJob   int
	submits   []string // users, one per sbatch call that reached "Slurm"
	queue     map[string]gateway.JobStatus
	acct      map[string]gateway.JobStatus
	cancelled []string
	// down makes every call fail as if slurmctld were unreachable; loseAnswer accepts the job but
	// reports a timeout (the answer was lost); reject refuses jobs with a message.
	down, loseAnswer bool
	reject           string
	queueCalls       int
}

func newFakeScheduler() *fakeScheduler {
	return &fakeScheduler{nextJob: 100, queue: map[string]gateway.JobStatus{}, acct: map[string]gateway.JobStatus{}}
}

var errDown = &gateway.Error{Code: gateway.CodeUnavailable, Message: "slurmctld not responding"}

func (f *fakeScheduler) Script(job gateway.Job) ([]byte, error) {
	return fmt.Appendf(nil, "#!/bin/bash\n#SBATCH --comment=%s\n#SBATCH --account=%s\n#SBATCH --begin=%s\n%s\n",
		job.Comment, job.Account, job.Begin.UTC().Format(time.RFC3339), strings.Join(job.Command, " ")), nil
}

func (f *fakeScheduler) Submit(_ context.Context, user string, script []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return "", errDown
	}
	if f.reject != "" {
		return "", &gateway.Error{Code: gateway.CodeInvalid, Message: f.reject}
	}
	f.nextJob++
	id := fmt.Sprint(f.nextJob)
	comment := strings.TrimPrefix(strings.Split(string(script), "\n")[1], "#SBATCH --comment=")
	f.submits = append(f.submits, user)
	f.queue[id] = gateway.JobStatus{JobID: id, User: user, Comment: comment, State: gateway.TaskPending, Reason: "BeginTime"}
	if f.loseAnswer {
		return "", errDown
	}
	return id, nil
}

func (f *fakeScheduler) Queue(context.Context) ([]gateway.JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queueCalls++
	if f.down {
		return nil, errDown
	}
	var out []gateway.JobStatus
	for _, js := range f.queue {
		out = append(out, js)
	}
	return out, nil
}

func (f *fakeScheduler) Accounting(_ context.Context, from, to time.Time, _ []string) ([]gateway.JobStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gateway.JobStatus
	for _, js := range f.acct {
		out = append(out, js)
	}
	return out, nil
}

func (f *fakeScheduler) Cancel(_ context.Context, user, jobID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancelled = append(f.cancelled, jobID)
	delete(f.queue, jobID)
	return nil
}

func (f *fakeScheduler) StartNow(context.Context, string) error { return nil }

// set moves a job in the fake queue (or out of it, into accounting, when final).
func (f *fakeScheduler) set(jobID string, js gateway.JobStatus) {
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

func (f *fakeScheduler) submitted() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.submits)
}

// fakeImages knows one catalog image, "pytorch", and accepts paths inside the user's roots.
type fakeImages struct{}

func (fakeImages) List(context.Context) ([]gateway.Image, error) {
	return []gateway.Image{{Name: "pytorch", Path: "/hfs/images/pytorch.sif", Type: "sif"}}, nil
}

func (fakeImages) Resolve(_ context.Context, ref, user string, roots []string) (gateway.Image, error) {
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

func (fakeImages) Command(r gateway.Run) ([]string, []gateway.Forward, error) {
	return []string{"apptainer", "-q", "exec", r.Image, "/bin/sh", "-c", r.Command}, nil, nil
}

// fakeLogs makes no directories.
type fakeLogs struct{}

func (fakeLogs) Prepare(context.Context, string, string) error { return nil }

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type harness struct {
	svc   *gateway.Service
	slurm *fakeScheduler
	clock *clock
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
	clk := &clock{now: time.Date(2026, 12, 4, 16, 25, 0, 0, time.UTC)}
	sched := newFakeScheduler()
	svc := gateway.NewService(gateway.Config{
		Location: time.UTC,
		Flavors: []gateway.Flavor{{Name: "gpu-2", GPUs: 2, CPUs: 2, MemoryMB: 4000, Partition: "gpu",
			TimeLimit: 2 * time.Hour, PricePerHour: 5, Currency: "USD"}},
		HomeTemplate: "/hfs/home/{user}", WorkTemplate: "/hfs/work/{user}", LogDirTemplate: "{work}/.batchgate/logs",
		Now: clk.Now,
	}, db, sched, fakeImages{}, fakeLogs{}, gateway.NewBroker(100), slog.New(slog.NewTextHandler(io.Discard, nil)))
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
	if task.State != gateway.TaskPending || task.JobID == "" || h.slurm.submits[0] != "alice" {
		t.Fatalf("after start: task %s job %q submits %v", task.State, task.JobID, h.slurm.submits)
	}
	if !strings.Contains(task.Script, "--comment="+task.ID) || !strings.Contains(task.Script, "--account=vision") {
		t.Errorf("script does not carry the task id and project:\n%s", task.Script)
	}
	if got, _ := h.svc.GetContainer(ctx, alice, c.ID); got.State != gateway.Ready {
		t.Fatalf("container %s, want Ready", got.State)
	}

	started := h.clock.Now().Add(time.Minute)
	h.slurm.set(task.JobID, gateway.JobStatus{State: gateway.TaskRunning, Reason: "None", StartAt: started})
	if err := h.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.svc.GetContainer(ctx, alice, c.ID); got.State != gateway.Running {
		t.Fatalf("container %s, want Running", got.State)
	}

	exit := 0
	h.slurm.set(task.JobID, gateway.JobStatus{State: gateway.TaskCompleted, Final: true, StartAt: started,
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
	h.slurm.down = true
	task, err := h.svc.StartContainer(ctx, alice, c.ID, "")
	if err != nil {
		t.Fatalf("a start while Slurm is down is accepted, got %v", err)
	}
	if task.State != gateway.TaskSubmitting || !strings.Contains(task.Reason, "waiting for Slurm") {
		t.Fatalf("task %s %q, want SUBMITTING waiting for Slurm", task.State, task.Reason)
	}
	// Still down: the retry is recorded, nothing reaches Slurm.
	h.clock.add(time.Minute)
	_ = h.svc.Reconcile(ctx)
	h.slurm.down = false
	h.clock.add(2 * time.Minute)
	for range 3 {
		if err := h.svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.slurm.submitted(); n != 1 {
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
	h.slurm.loseAnswer = true
	task, err := h.svc.StartContainer(ctx, alice, c.ID, "")
	if err != nil || task.State != gateway.TaskSubmitting {
		t.Fatalf("start: %v %v", task, err)
	}
	h.slurm.loseAnswer = false
	h.clock.add(5 * time.Minute)
	for range 3 {
		if err := h.svc.Reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.slurm.submitted(); n != 1 {
		t.Fatalf("%d submissions, want 1: the job was found by its comment", n)
	}
	got, _ := h.svc.GetTask(ctx, alice, task.ID)
	if got.JobID != "101" || got.State != gateway.TaskPending {
		t.Fatalf("task job %q state %s, want the adopted job 101, PENDING", got.JobID, got.State)
	}
}

func TestSlurmRefusalFailsTheTaskWithItsMessage(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := h.create(t, alice, nil)
	h.slurm.reject = "Invalid account or account/partition combination specified"
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
	if stopped.State != gateway.TaskCancelled || len(h.slurm.cancelled) != 1 || h.slurm.cancelled[0] != task.JobID {
		t.Fatalf("stop: task %s, cancelled %v", stopped.State, h.slurm.cancelled)
	}
	if ctr, _ := h.svc.GetContainer(ctx, alice, c.ID); ctr.State != gateway.Inactive {
		t.Fatalf("container %s after stop", ctr.State)
	}
	if _, err := h.svc.StopContainer(ctx, alice, c.ID); gateway.ErrorCode(err) != gateway.CodeConflict {
		t.Fatalf("second stop: %v, want conflict", err)
	}
	// Accounting later settles it; it stays CANCELLED.
	h.slurm.set(task.JobID, gateway.JobStatus{State: gateway.TaskCancelled, Final: true})
	if err := h.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := h.svc.GetTask(ctx, alice, task.ID)
	if !got.Accounted || got.State != gateway.TaskCancelled || got.GPUHours != 0 {
		t.Fatalf("settled stopped task: %+v", got)
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
	if err != nil || t2.ID != t1.ID || h.slurm.submitted() != 1 {
		t.Fatalf("replayed start: %v %v, submits %d", t2, err, h.slurm.submitted())
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
	if h.slurm.submitted() != 1 || conflicts != 19 {
		t.Fatalf("submits %d conflicts %d, want 1 and 19", h.slurm.submitted(), conflicts)
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
	h.clock.add(time.Hour)
	_, err = h.svc.StartContainer(ctx, alice, c.ID, "")
	if gateway.ErrorCode(err) != gateway.CodeInvalid || !strings.Contains(err.Error(), "2026-12-04T18:00:00Z") {
		t.Fatalf("start after the hour passed: %v, want invalid naming 18:00", err)
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
	if h.slurm.queueCalls != 0 {
		t.Fatalf("%d queue calls with nothing to follow, want 0", h.slurm.queueCalls)
	}
}

func asError(err error, target **gateway.Error) bool {
	e, ok := err.(*gateway.Error)
	if ok {
		*target = e
	}
	return ok
}
