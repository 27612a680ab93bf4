package logship_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"batchgate/logship"
)

// sqliteCheckpoints stands for the gateway's SQLite-backed Checkpoints: it
// would store the Checkpoint as JSON in the task's row and return an error
// wrapping logship.ErrNoCheckpoint when the row has none.
type sqliteCheckpoints struct{ logship.Checkpoints }

// Example shows how the gateway wires logship: one Follow per running task,
// Seal when the task ended, Tail/Stream/PresignLog for the API.
func Example() {
	ctx := context.Background()
	store, err := logship.NewStore(logship.COSConfig{
		Endpoint: "127.0.0.1:9000", AccessKey: "key", SecretKey: "secret",
		Bucket: "batchgate-logs", Region: "us-east-1", RetentionDays: 90,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := store.EnsureBucket(ctx); err != nil { // at start-up; Ready for /readyz
		fmt.Println(err)
		return
	}
	sh := logship.NewShipper(store, sqliteCheckpoints{}, logship.Options{Logger: slog.Default()})
	src := logship.Source{
		Key:    "42",
		Path:   "/hfs/work/alice/.batchgate/logs/42.log",
		Prefix: "logs/vision/7/42/",
	}
	go sh.Follow(ctx, src) // while the task runs; returns when sealed or ctx ends

	last, _ := sh.Tail(ctx, src, 64<<10) // GET .../log
	_ = last
	_ = sh.Stream(ctx, src, 0, func(next int64, line []byte) error { // ?follow=1
		fmt.Printf("id: %d\ndata: %s\n\n", next, line) // real code must escape '\r'
		return nil
	})

	// The reconciler saw the job end:
	m, err := sh.Seal(ctx, src, logship.SealInfo{ExitCode: 0, State: "COMPLETED", EndTime: time.Now()})
	if err == nil {
		fmt.Println(m.Size, m.SHA256)
	}
	u, err := store.PresignLog(ctx, src, 5*time.Minute) // GET .../log/download
	if err == nil {
		fmt.Println(u)
	}
}
