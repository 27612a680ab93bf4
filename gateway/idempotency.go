package gateway

import "context"

// callerKey scopes a start's Idempotency-Key to the caller. The store keys starts by the
// container's owner; without the caller in the key, a project admin's key could replay (and
// show) a task the owner started with the same key, maybe in a project the admin cannot see.
// Unix logins cannot contain ':', so the scoped keys of two callers never meet.
func callerKey(p Principal, key string) string {
	if key == "" {
		return ""
	}
	return p.User + ":" + key
}

// replayedTask is the task an earlier start with the same key made; a key used before for
// another container is CodeConflict rather than that container's task.
func (s *Service) replayedTask(ctx context.Context, c *Container, taskID string) (*Task, error) {
	t, err := s.store.Task(ctx, taskID)
	if err != nil {
		return nil, err
	}
	if t.ContainerID != c.ID {
		return nil, Errorf(CodeConflict, "this Idempotency-Key was already used to start another container; use a new key")
	}
	return t, nil
}
