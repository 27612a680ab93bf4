package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"batchgate/gateway"
)

// openTest opens a fresh database file in the test's temporary directory.
func openTest(tb testing.TB) *DB {
	tb.Helper()
	db, err := Open(context.Background(), filepath.Join(tb.TempDir(), "batchgate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

// newContainer returns a valid container in project owned by owner, created at t0 + n seconds.
func newContainer(project, owner, name string, n int) *gateway.Container {
	return &gateway.Container{
		ID: fmt.Sprintf("c-%s-%s", project, name), Project: project, Owner: owner, Name: name,
		Image: "pytorch", Flavor: "gpu-1", Command: "python train.py",
		Env:      []gateway.EnvVar{{Name: "EPOCHS", Value: "3"}, {Name: "LR", Value: "0.1"}},
		Schedule: gateway.Schedule{Kind: gateway.ScheduleManual},
		State:    gateway.Inactive, CreatedAt: t0.Add(time.Duration(n) * time.Second),
	}
}

func newTask(id string) *gateway.Task {
	return &gateway.Task{ID: id, Flavor: "gpu-1", Begin: t0.Add(time.Hour), GPUs: 1, CPUs: 4,
		PricePerHour: 2.5, Currency: "EUR", CreatedAt: t0.Add(time.Minute)}
}

func mustCreate(tb testing.TB, db *DB, c *gateway.Container) {
	tb.Helper()
	if err := db.CreateContainer(context.Background(), c, ""); err != nil {
		tb.Fatalf("create %s: %v", c.Name, err)
	}
}

// wantCode fails unless err carries a *gateway.Error with code.
func wantCode(tb testing.TB, err error, code gateway.Code) {
	tb.Helper()
	var ge *gateway.Error
	if !errors.As(err, &ge) || ge.Code != code {
		tb.Fatalf("error = %v, want a %s *gateway.Error", err, code)
	}
}
