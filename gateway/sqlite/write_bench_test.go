package sqlite

import (
	"context"
	"fmt"
	"testing"
	"time"

	"batchgate/gateway"
)

// BenchmarkStartWrites is the store's share of one create+start: the container's insert, the
// task's insert before sbatch, the save after it, and one audit entry for each request.
func BenchmarkStartWrites(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	b.Run("create", func(b *testing.B) {
		for i := range b.N {
			c := newContainer("p", "u", fmt.Sprintf("c-create-%d-%d", b.N, i), i)
			if err := db.CreateContainer(ctx, c, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	var ctrs []*gateway.Container
	b.Run("start", func(b *testing.B) {
		for i := range b.N {
			b.StopTimer()
			c := newContainer("p", "u", fmt.Sprintf("c-start-%d-%d", b.N, i), i)
			mustCreate(b, db, c)
			t := &gateway.Task{Script: "#!/bin/bash\n" + string(make([]byte, 1500))}
			b.StartTimer()
			if err := db.StartTask(ctx, c, t, ""); err != nil {
				b.Fatal(err)
			}
			ctrs = append(ctrs, c)
		}
	})
	b.Run("save", func(b *testing.B) {
		for i := range b.N {
			b.StopTimer()
			c := ctrs[i%len(ctrs)]
			t, err := db.Task(ctx, c.CurrentTask)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			t.JobID, t.State, t.UpdatedAt = fmt.Sprint(i), gateway.TaskPending, time.Now()
			if err := db.SaveTask(ctx, t, &gateway.TaskEvent{State: t.State}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("audit", func(b *testing.B) {
		for range b.N {
			if _, err := db.AppendAudit(ctx, AuditEntry{Actor: "u", Action: "container.start", Resource: "ctr_x", Project: "p", Result: "ok"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
