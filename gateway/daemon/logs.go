package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/sqlite"
	"batchgate/logship"
)

// logs adapts logship to the Service's Logs port: it owns the background followers, one per
// running task, for as long as the daemon runs.
type logs struct {
	wrapper []string
	timeout time.Duration
	store   *logship.Store
	shipper *logship.Shipper
	log     *slog.Logger

	ctx       context.Context // followers' lifetime: cancelled when the daemon stops
	mu        sync.Mutex
	following map[string]bool
	wg        sync.WaitGroup
}

func newLogs(ctx context.Context, cos *logship.Store, db *sqlite.DB, wrapper []string, timeout time.Duration, log *slog.Logger) *logs {
	return &logs{
		wrapper: wrapper, timeout: timeout, store: cos, log: log, ctx: ctx, following: map[string]bool{},
		shipper: logship.NewShipper(cos, checkpoints{db}, logship.Options{Logger: log}),
	}
}

func source(t *gateway.Task) logship.Source {
	return logship.Source{Key: t.ID, Path: t.LogPath, Prefix: t.LogObject}
}

func (l *logs) Prepare(ctx context.Context, owner, logPath string) error {
	dir := filepath.Dir(logPath)
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil // made before: the common case, and no process to start
	}
	err := logship.MakeLogDir(ctx, l.wrapper, owner, dir, l.timeout)
	if errors.Is(err, logship.ErrLogDirRefused) {
		return &gateway.Error{Code: gateway.CodeInvalid, Message: err.Error(), Cause: err}
	}
	return err
}

// Follow ships t's log in the background until it is sealed or the daemon stops.
func (l *logs) Follow(t *gateway.Task) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.following[t.ID] || l.ctx.Err() != nil {
		return
	}
	l.following[t.ID] = true
	src := source(t)
	l.wg.Go(func() {
		err := l.shipper.Follow(l.ctx, src)
		if err != nil && l.ctx.Err() == nil {
			l.log.Warn("log follower stopped", slog.String("task", src.Key), slog.Any("error", err))
		}
		l.mu.Lock()
		delete(l.following, src.Key)
		l.mu.Unlock()
	})
}

func (l *logs) Seal(ctx context.Context, t *gateway.Task) error {
	info := logship.SealInfo{State: string(t.State)}
	if t.ExitCode != nil {
		info.ExitCode = *t.ExitCode
	}
	if t.StartedAt != nil {
		info.StartTime = *t.StartedAt
	}
	if t.EndedAt != nil {
		info.EndTime = *t.EndedAt
	}
	if _, err := l.shipper.Seal(ctx, source(t), info); err != nil {
		return fmt.Errorf("seal log of %s: %w", t.ID, err)
	}
	return nil
}

func (l *logs) Tail(ctx context.Context, t *gateway.Task, n int64) ([]byte, error) {
	b, err := l.shipper.Tail(ctx, source(t), n)
	if errors.Is(err, logship.ErrNoLog) {
		return nil, &gateway.Error{Code: gateway.CodeNotFound, Message: "the task has no log yet", Cause: err}
	}
	return b, err
}

func (l *logs) Stream(ctx context.Context, t *gateway.Task, from int64, emit func(next int64, line []byte) error) error {
	return l.shipper.Stream(ctx, source(t), from, emit)
}

func (l *logs) DownloadURL(ctx context.Context, t *gateway.Task, ttl time.Duration) (string, error) {
	u, err := l.store.PresignLog(ctx, source(t), ttl)
	if errors.Is(err, logship.ErrNotSealed) {
		return "", &gateway.Error{Code: gateway.CodeConflict, Message: "the log is not sealed yet: it can be downloaded once the task has ended", Cause: err}
	}
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// wait blocks until every follower has stopped (after the daemon's context is cancelled).
func (l *logs) wait() { l.wg.Wait() }

// checkpoints keeps the shipper's checkpoints in the gateway's database, as JSON.
type checkpoints struct{ db *sqlite.DB }

func (c checkpoints) Load(ctx context.Context, key string) (logship.Checkpoint, error) {
	data, err := c.db.LogCheckpoint(ctx, key)
	if gateway.ErrorCode(err) == gateway.CodeNotFound {
		return logship.Checkpoint{}, fmt.Errorf("task %s: %w", key, logship.ErrNoCheckpoint)
	}
	if err != nil {
		return logship.Checkpoint{}, err
	}
	var cp logship.Checkpoint
	if err := json.Unmarshal(data, &cp); err != nil {
		return logship.Checkpoint{}, fmt.Errorf("decode log checkpoint of %s: %w", key, err)
	}
	return cp, nil
}

func (c checkpoints) Save(ctx context.Context, key string, cp logship.Checkpoint) error {
	data, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("encode log checkpoint of %s: %w", key, err)
	}
	return c.db.SaveLogCheckpoint(ctx, key, data)
}
