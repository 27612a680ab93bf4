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

func TestCreateAndReadContainerRoundTrips(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	at := time.Date(2025, 3, 2, 9, 0, 0, 0, time.FixedZone("CET", 3600))
	c := newContainer("vision", "alice", "train", 0)
	c.Schedule = gateway.Schedule{Kind: gateway.ScheduleAt, At: &at}
	c.Favorite = true
	mustCreate(t, db, c)

	got, err := db.Container(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.CreatedAt.Equal(c.CreatedAt) || !got.UpdatedAt.Equal(c.CreatedAt) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("times = %v / %v, want %v in UTC", got.CreatedAt, got.UpdatedAt, c.CreatedAt)
	}
	if got.Schedule.At == nil || !got.Schedule.At.Equal(at) {
		t.Errorf("schedule.at = %v, want %v", got.Schedule.At, at)
	}
	// Compare the rest with times normalised.
	got.CreatedAt, got.UpdatedAt, got.Schedule.At = c.CreatedAt, c.UpdatedAt, c.Schedule.At
	if !reflect.DeepEqual(got, c) {
		t.Errorf("read back\n%+v\nwant\n%+v", got, c)
	}
}

func TestCreateContainerDefaultsAndEmptyEnv(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	db.now = func() time.Time { return t0 }
	c := &gateway.Container{Project: "vision", Owner: "alice", Name: "bare", Image: "i", Flavor: "f", Command: "true"}
	mustCreate(t, db, c)
	if c.ID == "" || c.State != gateway.Inactive || c.Schedule.Kind != gateway.ScheduleManual || !c.CreatedAt.Equal(t0) {
		t.Fatalf("defaults not filled in: %+v", c)
	}
	got, err := db.Container(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Env == nil || len(got.Env) != 0 || got.Schedule.At != nil {
		t.Errorf("env = %#v, schedule.at = %v; want empty env, nil at", got.Env, got.Schedule.At)
	}
}

func TestContainerNotFound(t *testing.T) {
	db := openTest(t)
	_, err := db.Container(context.Background(), "nope")
	wantCode(t, err, gateway.CodeNotFound)
}

func TestCreateContainerNameConflictPerProject(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	mustCreate(t, db, newContainer("vision", "alice", "train", 0))

	dup := newContainer("vision", "bob", "train", 1)
	dup.ID = "other-id"
	err := db.CreateContainer(ctx, dup, "")
	wantCode(t, err, gateway.CodeConflict)
	var ge *gateway.Error
	errors.As(err, &ge)
	if len(ge.Fields) != 1 || ge.Fields[0].Field != "name" {
		t.Errorf("fields = %+v, want one on name", ge.Fields)
	}
	// The same name in another project is fine.
	mustCreate(t, db, newContainer("speech", "carol", "train", 2))
}

func TestCreateContainerReplayedKey(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	first := newContainer("vision", "alice", "a", 0)
	if err := db.CreateContainer(ctx, first, "k1"); err != nil {
		t.Fatal(err)
	}
	again := newContainer("vision", "alice", "b", 1)
	err := db.CreateContainer(ctx, again, "k1")
	var re *gateway.ReplayError
	if !errors.As(err, &re) || re.ID != first.ID {
		t.Fatalf("replay error = %v, want ReplayError{%s}", err, first.ID)
	}
	if _, err := db.Container(ctx, again.ID); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Errorf("replayed create inserted a container: %v", err)
	}
	// The key is the owner's: bob may use the same one.
	if err := db.CreateContainer(ctx, newContainer("vision", "bob", "c", 2), "k1"); err != nil {
		t.Errorf("another owner's key: %v", err)
	}
}

func TestCreateContainerConcurrentReplaysMakeOne(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	const n = 20
	var wg sync.WaitGroup
	ids := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newContainer("vision", "alice", "same", i)
			c.ID = "" // each request names its own container
			errs[i] = db.CreateContainer(ctx, c, "one-key")
			ids[i] = c.ID
		}()
	}
	wg.Wait()
	winner := ""
	for i, err := range errs {
		if err == nil {
			if winner != "" {
				t.Fatalf("two creates succeeded: %s and %s", winner, ids[i])
			}
			winner = ids[i]
		}
	}
	if winner == "" {
		t.Fatalf("no create succeeded: %v", errs)
	}
	for i, err := range errs {
		var re *gateway.ReplayError
		if err != nil && (!errors.As(err, &re) || re.ID != winner) {
			t.Errorf("request %d: %v, want ReplayError{%s}", i, err, winner)
		}
	}
	var count int
	if err := db.db.GetContext(ctx, &count, "SELECT COUNT(*) FROM containers"); err != nil || count != 1 {
		t.Errorf("containers = %d (%v), want 1", count, err)
	}
}

func TestUpdateContainer(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	c := newContainer("vision", "alice", "a", 0)
	mustCreate(t, db, c)
	mustCreate(t, db, newContainer("vision", "alice", "taken", 1))

	c.Image, c.Command, c.Env, c.Favorite = "tensorflow", "echo hi", nil, true
	c.UpdatedAt = t0.Add(time.Hour)
	c.State = gateway.Running // not a spec field: must be ignored
	if err := db.UpdateContainer(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := db.Container(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Image != "tensorflow" || got.Command != "echo hi" || len(got.Env) != 0 || !got.Favorite ||
		!got.UpdatedAt.Equal(c.UpdatedAt) || got.State != gateway.Inactive {
		t.Errorf("after update: %+v", got)
	}

	c.Name = "taken"
	wantCode(t, db.UpdateContainer(ctx, c), gateway.CodeConflict)

	ghost := newContainer("vision", "alice", "ghost", 2)
	wantCode(t, db.UpdateContainer(ctx, ghost), gateway.CodeNotFound)

	c.Name = "a"
	startTestTask(t, db, c, "t1")
	wantCode(t, db.UpdateContainer(ctx, c), gateway.CodeConflict)
}

func TestDeleteContainerKeepsTasksAndFreesName(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	c := newContainer("vision", "alice", "a", 0)
	mustCreate(t, db, c)
	task := startTestTask(t, db, c, "t1")

	wantCode(t, db.DeleteContainer(ctx, c.ID), gateway.CodeConflict) // Ready
	task.State = gateway.TaskCompleted
	if err := db.SaveTask(ctx, task, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteContainer(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Container(ctx, c.ID); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Errorf("deleted container still readable: %v", err)
	}
	wantCode(t, db.DeleteContainer(ctx, c.ID), gateway.CodeNotFound)
	tasks, err := db.Tasks(ctx, c.ID)
	if err != nil || len(tasks) != 1 || tasks[0].ID != "t1" {
		t.Errorf("tasks after delete = %v (%v), want t1", tasks, err)
	}
	if evs, err := db.TaskEvents(ctx, "t1"); err != nil || len(evs) != 1 {
		t.Errorf("history after delete = %v (%v)", evs, err)
	}
	again := newContainer("vision", "alice", "a", 5)
	again.ID = "new-a"
	mustCreate(t, db, again)
}

func TestPurgeIdempotencyKeys(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	db.now = func() time.Time { return t0 }
	if err := db.CreateContainer(ctx, newContainer("vision", "alice", "a", 0), "k"); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PurgeIdempotencyKeys(ctx, t0); err != nil || n != 0 {
		t.Fatalf("purge before t0 = %d (%v), want 0", n, err)
	}
	if n, err := db.PurgeIdempotencyKeys(ctx, t0.Add(time.Second)); err != nil || n != 1 {
		t.Fatalf("purge after t0 = %d (%v), want 1", n, err)
	}
	// The key is free again.
	if err := db.CreateContainer(ctx, newContainer("vision", "alice", "b", 1), "k"); err != nil {
		t.Errorf("create with a purged key: %v", err)
	}
}
