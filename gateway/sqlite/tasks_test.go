package sqlite

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"batchgate/gateway"
)

func startTestTask(tb testing.TB, db *DB, c *gateway.Container, id string) *gateway.Task {
	tb.Helper()
	task := newTask(id)
	if err := db.StartTask(context.Background(), c, task, ""); err != nil {
		tb.Fatalf("start %s: %v", id, err)
	}
	return task
}

func TestStartTaskRecordsTaskEventAndReadyContainer(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	c := newContainer("vision", "alice", "a", 0)
	mustCreate(t, db, c)
	task := startTestTask(t, db, c, "t1")

	if c.State != gateway.Ready || c.CurrentTask != "t1" {
		t.Errorf("in-memory container: state %s, current %q", c.State, c.CurrentTask)
	}
	got, err := db.Container(ctx, c.ID)
	if err != nil || got.State != gateway.Ready || got.CurrentTask != "t1" {
		t.Fatalf("stored container = %+v (%v), want Ready with t1", got, err)
	}
	stored, err := db.Task(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if stored.State != gateway.TaskSubmitting || stored.ContainerID != c.ID || stored.Project != "vision" ||
		stored.Owner != "alice" || !stored.Begin.Equal(task.Begin) || stored.NextAttemptAt != nil {
		t.Errorf("stored task = %+v", stored)
	}
	evs, err := db.TaskEvents(ctx, "t1")
	if err != nil || len(evs) != 1 || evs[0].State != gateway.TaskSubmitting || !evs[0].At.Equal(task.CreatedAt) {
		t.Errorf("history = %+v (%v)", evs, err)
	}
	// A second start conflicts: the container is Ready.
	wantCode(t, db.StartTask(ctx, c, newTask("t2"), ""), gateway.CodeConflict)
	ghost := newContainer("vision", "alice", "ghost", 1)
	wantCode(t, db.StartTask(ctx, ghost, newTask("t3"), ""), gateway.CodeNotFound)
}

func TestStartTaskReplayedKey(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	c := newContainer("vision", "alice", "a", 0)
	mustCreate(t, db, c)
	if err := db.StartTask(ctx, c, newTask("t1"), "start-1"); err != nil {
		t.Fatal(err)
	}
	// The replay wins over the state conflict: the client gets its first task back.
	err := db.StartTask(ctx, c, newTask("t2"), "start-1")
	var re *gateway.ReplayError
	if !errors.As(err, &re) || re.ID != "t1" {
		t.Fatalf("replay = %v, want ReplayError{t1}", err)
	}
	if _, err := db.Task(ctx, "t2"); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Errorf("replayed start inserted a task: %v", err)
	}
}

func TestStartTaskRaceMakesOneTask(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	mustCreate(t, db, newContainer("vision", "alice", "a", 0))
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine holds its own stale copy that says Inactive.
			c := newContainer("vision", "alice", "a", 0)
			task := newTask("")
			errs[i] = db.StartTask(ctx, c, task, "")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case gateway.ErrorCode(err) != gateway.CodeConflict:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d starts succeeded, want 1", ok)
	}
	var tasks, events int
	db.db.GetContext(ctx, &tasks, "SELECT COUNT(*) FROM tasks")
	db.db.GetContext(ctx, &events, "SELECT COUNT(*) FROM task_events")
	if tasks != 1 || events != 1 {
		t.Errorf("tasks = %d, events = %d; want 1 and 1", tasks, events)
	}
}

func TestSaveTaskUpdatesTaskHistoryAndContainer(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	c := newContainer("vision", "alice", "a", 0)
	mustCreate(t, db, c)
	task := startTestTask(t, db, c, "t1")

	steps := []struct {
		state gateway.TaskState
		want  gateway.ContainerState
	}{
		{gateway.TaskPending, gateway.Ready},
		{gateway.TaskRunning, gateway.Running},
		{gateway.TaskFailed, gateway.Inactive},
	}
	for i, st := range steps {
		task.State, task.Reason = st.state, "step"
		task.UpdatedAt = t0.Add(time.Duration(i+2) * time.Minute)
		if err := db.SaveTask(ctx, task, &gateway.TaskEvent{State: st.state, Reason: "step"}); err != nil {
			t.Fatal(err)
		}
		got, err := db.Container(ctx, c.ID)
		if err != nil || got.State != st.want {
			t.Fatalf("after %s: container %v (%v), want %s", st.state, got, err, st.want)
		}
	}
	evs, err := db.TaskEvents(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	var states []gateway.TaskState
	for _, e := range evs {
		states = append(states, e.State)
	}
	want := []gateway.TaskState{gateway.TaskSubmitting, gateway.TaskPending, gateway.TaskRunning, gateway.TaskFailed}
	if !reflect.DeepEqual(states, want) || !evs[3].At.Equal(t0.Add(4*time.Minute)) || evs[3].TaskID != "t1" {
		t.Errorf("history = %+v, want states %v", evs, want)
	}

	// Every field round-trips.
	code, sig := 137, 9
	now := t0.Add(time.Hour)
	task.JobID, task.SubmitAttempts, task.NextAttemptAt = "4242", 3, &now
	task.SubmittedAt, task.EligibleAt, task.StartedAt, task.EndedAt = &now, &now, &now, &now
	task.ExitCode, task.Signal, task.LogPath, task.LogObject, task.Script = &code, &sig, "/p", "logs/o", "#!/bin/sh"
	task.ApplyUsage(7200, 2, 8)
	task.Accounted, task.StopRequested = true, true
	if err := db.SaveTask(ctx, task, nil); err != nil {
		t.Fatal(err)
	}
	got, err := db.Task(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normTask(got), normTask(task)) {
		t.Errorf("round trip\n%+v\nwant\n%+v", normTask(got), normTask(task))
	}
	if n, _ := db.TaskEvents(ctx, "t1"); len(n) != 4 {
		t.Errorf("SaveTask without event appended history: %d events", len(n))
	}
}

// normTask returns a copy with every time in UTC, for DeepEqual.
func normTask(t *gateway.Task) gateway.Task {
	c := *t
	utc := func(p *time.Time) *time.Time {
		if p == nil {
			return nil
		}
		u := p.UTC()
		return &u
	}
	c.Begin, c.CreatedAt, c.UpdatedAt = c.Begin.UTC(), c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	c.NextAttemptAt, c.SubmittedAt, c.EligibleAt = utc(c.NextAttemptAt), utc(c.SubmittedAt), utc(c.EligibleAt)
	c.StartedAt, c.EndedAt = utc(c.StartedAt), utc(c.EndedAt)
	return c
}

func TestSaveTaskOfOldTaskLeavesContainer(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	c := newContainer("vision", "alice", "a", 0)
	mustCreate(t, db, c)
	old := startTestTask(t, db, c, "t1")
	old.State = gateway.TaskCompleted
	saves := []gateway.TaskSave{{Task: old}}
	if err := db.SaveTasks(ctx, saves); err != nil {
		t.Fatal(err)
	}
	if moved := saves[0].Container; moved == nil || moved.ID != c.ID || moved.State != gateway.Inactive || moved.Name != c.Name {
		t.Fatalf("the save of the current task reports container %+v, want %s Inactive", moved, c.ID)
	}
	startTestTask(t, db, c, "t2")
	// A late update of t1 (e.g. accounting) must not touch the container, now t2's.
	old.Accounted = true
	saves = []gateway.TaskSave{{Task: old}}
	if err := db.SaveTasks(ctx, saves); err != nil {
		t.Fatal(err)
	}
	if saves[0].Container != nil {
		t.Errorf("the save of an old task reports container %+v, want none", saves[0].Container)
	}
	got, _ := db.Container(ctx, c.ID)
	if got.State != gateway.Ready || got.CurrentTask != "t2" {
		t.Errorf("container = %s / %s, want Ready / t2", got.State, got.CurrentTask)
	}
}

func TestTaskNotFound(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	_, err := db.Task(ctx, "nope")
	wantCode(t, err, gateway.CodeNotFound)
	_, err = db.TaskEvents(ctx, "nope")
	wantCode(t, err, gateway.CodeNotFound)
	wantCode(t, db.SaveTask(ctx, newTask("nope"), nil), gateway.CodeNotFound)
	tasks, err := db.Tasks(ctx, "nope")
	if err != nil || tasks == nil || len(tasks) != 0 {
		t.Errorf("Tasks(unknown) = %v, %v; want empty", tasks, err)
	}
}

func TestTasksNewestFirstAndUnsettled(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	c := newContainer("vision", "alice", "a", 0)
	mustCreate(t, db, c)
	final := map[string]struct {
		state             gateway.TaskState
		accounted, sealed bool
	}{
		"t0": {gateway.TaskCompleted, true, false}, // accounted, log not yet sealed
		"t1": {gateway.TaskCompleted, true, true},  // settled
		"t2": {gateway.TaskFailed, false, false},   // ended, not yet accounted
		"t3": {gateway.TaskRunning, false, false},  // still running (current)
	}
	for i, id := range []string{"t0", "t1", "t2", "t3"} {
		task := newTask(id)
		task.CreatedAt = t0.Add(time.Duration(i) * time.Minute)
		if err := db.StartTask(ctx, c, task, ""); err != nil {
			t.Fatal(err)
		}
		task.State, task.Accounted, task.LogSealed = final[id].state, final[id].accounted, final[id].sealed
		if err := db.SaveTask(ctx, task, nil); err != nil {
			t.Fatal(err)
		}
	}
	tasks, err := db.Tasks(ctx, c.ID)
	if err != nil || len(tasks) != 4 || tasks[0].ID != "t3" || tasks[3].ID != "t0" {
		t.Fatalf("Tasks = %v (%v), want t3 t2 t1 t0", ids(tasks), err)
	}
	un, err := db.UnsettledTasks(ctx)
	if err != nil || !reflect.DeepEqual(ids(un), []string{"t0", "t2", "t3"}) {
		t.Errorf("UnsettledTasks = %v (%v), want [t0 t2 t3]", ids(un), err)
	}
}

func ids(tasks []*gateway.Task) []string {
	var out []string
	for _, t := range tasks {
		out = append(out, t.ID)
	}
	return out
}

// TestSaveTasksIsOneTransaction: several tasks and their containers move together, and a task
// that does not exist fails the whole batch with nothing written.
func TestSaveTasksIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	var tasks []*gateway.Task
	for i, name := range []string{"a", "b"} {
		c := newContainer("vision", "alice", name, i)
		mustCreate(t, db, c)
		task := newTask("batch-" + name)
		if err := db.StartTask(ctx, c, task, ""); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
	}
	for _, task := range tasks {
		task.State = gateway.TaskRunning
	}
	ghost := newTask("ghost")
	ghost.State = gateway.TaskRunning
	err := db.SaveTasks(ctx, []gateway.TaskSave{{Task: tasks[0]}, {Task: ghost}})
	if gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("batch with a missing task: %v, want not found", err)
	}
	if got, _ := db.Task(ctx, tasks[0].ID); got.State != gateway.TaskSubmitting {
		t.Fatalf("a failed batch wrote task %s: %s", tasks[0].ID, got.State)
	}
	if err := db.SaveTasks(ctx, []gateway.TaskSave{{Task: tasks[0]}, {Task: tasks[1], Event: &gateway.TaskEvent{State: gateway.TaskRunning}}}); err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		got, _ := db.Task(ctx, task.ID)
		c, _ := db.Container(ctx, task.ContainerID)
		if got.State != gateway.TaskRunning || c.State != gateway.Running {
			t.Errorf("task %s %s, container %s: want RUNNING and Running", task.ID, got.State, c.State)
		}
	}
	if events, _ := db.TaskEvents(ctx, tasks[1].ID); len(events) != 2 {
		t.Errorf("task %s has %d events, want its start and the batch's", tasks[1].ID, len(events))
	}
}

// TestSaveTasksUnlessStopped: the reconciler's older copy does not undo a user's stop.
func TestSaveTasksUnlessStopped(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	c := newContainer("vision", "alice", "s", 0)
	mustCreate(t, db, c)
	task := newTask("stopped")
	if err := db.StartTask(ctx, c, task, ""); err != nil {
		t.Fatal(err)
	}
	stale := *task
	task.State, task.StopRequested = gateway.TaskCancelled, true
	if err := db.SaveTask(ctx, task, nil); err != nil {
		t.Fatal(err)
	}
	stale.State = gateway.TaskRunning
	saves := []gateway.TaskSave{{Task: &stale, UnlessStopped: true}}
	if err := db.SaveTasks(ctx, saves); err != nil || !saves[0].Skipped {
		t.Fatalf("stale save: %v, skipped %v; want it skipped", err, saves[0].Skipped)
	}
	if got, _ := db.Task(ctx, task.ID); got.State != gateway.TaskCancelled || !got.StopRequested {
		t.Fatalf("after a stale save the task is %s (stop %v), want CANCELLED and stopped", got.State, got.StopRequested)
	}
	if got, _ := db.Container(ctx, c.ID); got.State != gateway.Inactive {
		t.Fatalf("container %s, want Inactive", got.State)
	}
}
