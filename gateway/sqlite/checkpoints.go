package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"batchgate/gateway"
)

// LogCheckpoint returns the stored log-shipping checkpoint of a task (opaque JSON), or a
// CodeNotFound error when none was saved yet.
func (s *DB) LogCheckpoint(ctx context.Context, taskID string) ([]byte, error) {
	var data string
	err := s.db.GetContext(ctx, &data, "SELECT data FROM log_checkpoints WHERE task_id = ?", taskID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gateway.NotFound("log checkpoint", taskID)
	}
	if err != nil {
		return nil, dbErrorf("read log checkpoint %s: %w", taskID, err)
	}
	return []byte(data), nil
}

// SaveLogCheckpoint stores a task's log-shipping checkpoint, replacing the previous one.
func (s *DB) SaveLogCheckpoint(ctx context.Context, taskID string, data []byte) error {
	_, err := s.exec(ctx, `INSERT INTO log_checkpoints (task_id, data, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (task_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		taskID, string(data), time.Now().UnixNano())
	if err != nil {
		return dbErrorf("save log checkpoint %s: %w", taskID, err)
	}
	return nil
}
