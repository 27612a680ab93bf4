package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jmoiron/sqlx"

	"batchgate/gateway"
)

// StartTask records t as c's current task and moves c from Inactive to Ready, in one transaction
// that re-reads c's state (gateway.Store). t.State must be empty or SUBMITTING (it is set to
// SUBMITTING); t.ContainerID, Project, Owner, ID and CreatedAt/UpdatedAt are filled in when empty, and the first
// history event (SUBMITTING at t.CreatedAt) is written. On success c.State and c.CurrentTask are
// updated in memory too. Errors: CodeNotFound for an unknown container; CodeConflict when c is
// not Inactive; a *gateway.ReplayError with the first task's id when t.Owner already used key for
// a start (nothing changes then).
func (s *DB) StartTask(ctx context.Context, c *gateway.Container, t *gateway.Task, key string) error {
	if t.State != "" && t.State != gateway.TaskSubmitting {
		return dbErrorf("start task: state is %s, want %s", t.State, gateway.TaskSubmitting)
	}
	if t.ContainerID != "" && t.ContainerID != c.ID {
		return dbErrorf("start task: task is for container %s, not %s", t.ContainerID, c.ID)
	}
	t.State, t.ContainerID = gateway.TaskSubmitting, c.ID
	if t.Project == "" {
		t.Project = c.Project
	}
	if t.Owner == "" {
		t.Owner = c.Owner
	}
	if t.ID == "" {
		t.ID = newID()
	}
	now := s.now()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := claimKey(ctx, tx, t.Owner, opStart, key, t.ID, now); err != nil {
			return err
		}
		if err := requireState(ctx, tx, c.ID, gateway.ActStart); err != nil {
			return err
		}
		if _, err := tx.NamedExecContext(ctx, taskInsert, toTaskRow(t)); err != nil {
			return dbErrorf("start task: insert task: %w", err)
		}
		ev := gateway.TaskEvent{TaskID: t.ID, At: t.CreatedAt, State: gateway.TaskSubmitting}
		if err := insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE containers SET state = ?, current_task = ?, updated_at = ? WHERE id = ?",
			gateway.Ready, t.ID, nt(t.CreatedAt), c.ID); err != nil {
			return dbErrorf("start task: update container: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.State, c.CurrentTask, c.UpdatedAt = gateway.Ready, t.ID, t.CreatedAt
	return nil
}

func insertEvent(ctx context.Context, tx *sqlx.Tx, ev gateway.TaskEvent) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO task_events (task_id, at, state, reason) VALUES (?, ?, ?, ?)",
		ev.TaskID, nt(ev.At), ev.State, ev.Reason)
	if err != nil {
		return dbErrorf("record task %s event: %w", ev.TaskID, err)
	}
	return nil
}

// SaveTask writes t's mutable fields (everything but its id, container, project, owner and
// creation time), appends ev to its history when ev is not nil (ev.TaskID and a zero ev.At
// default to t.ID and t.UpdatedAt), and sets the container's state to
// gateway.ContainerStateFor(t.State) when t is its current task — in one transaction
// (gateway.Store). A zero t.UpdatedAt becomes now. Returns CodeNotFound for an unknown task.
func (s *DB) SaveTask(ctx context.Context, t *gateway.Task, ev *gateway.TaskEvent) error {
	return s.SaveTasks(ctx, []gateway.TaskSave{{Task: t, Event: ev}})
}

// SaveTasks is SaveTask for several tasks in one transaction: the reconciler records a whole
// pass's changes with one write, rather than queueing once per task behind the requests' writes.
func (s *DB) SaveTasks(ctx context.Context, saves []gateway.TaskSave) error {
	if len(saves) == 0 {
		return nil
	}
	for _, sv := range saves {
		if sv.Task.UpdatedAt.IsZero() {
			sv.Task.UpdatedAt = s.now()
		}
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		for i := range saves {
			if err := saveTaskTx(ctx, tx, &saves[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// saveTaskTx writes one task, its event and its container's state inside tx.
func saveTaskTx(ctx context.Context, tx *sqlx.Tx, sv *gateway.TaskSave) error {
	t, ev := sv.Task, sv.Event
	update := taskUpdate
	if sv.UnlessStopped {
		update += " AND stop_requested = 0"
	}
	res, err := tx.NamedExecContext(ctx, update, toTaskRow(t))
	if err != nil {
		return dbErrorf("save task %s: %w", t.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return dbErrorf("save task %s: %w", t.ID, err)
	} else if n == 0 && sv.UnlessStopped {
		sv.Skipped = true // stopped meanwhile: the stop stands
		return nil
	} else if n == 0 {
		return gateway.NotFound("task", t.ID)
	}
	if ev != nil {
		e := *ev
		if e.TaskID == "" {
			e.TaskID = t.ID
		}
		if e.At.IsZero() {
			e.At = t.UpdatedAt
		}
		if err := insertEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	// The stored container id, not t's, decides: it is the one the task was started on.
	var scan containerScan
	c, err := scan.scan(tx.QueryRowxContext(ctx, `UPDATE containers SET state = ?, updated_at = ?
		WHERE id = (SELECT container_id FROM tasks WHERE id = ?) AND current_task = ?
		RETURNING `+containerColumns,
		gateway.ContainerStateFor(t.State), nt(t.UpdatedAt), t.ID, t.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil // no longer its container's current task
	}
	if err != nil {
		return dbErrorf("save task %s: update container: %w", t.ID, err)
	}
	sv.Container = c
	return nil
}

// Task returns the task with id, or a CodeNotFound *gateway.Error.
func (s *DB) Task(ctx context.Context, id string) (*gateway.Task, error) {
	var row taskRow
	err := s.db.GetContext(ctx, &row, "SELECT "+taskColumns+" FROM tasks WHERE id = ?", id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, gateway.NotFound("task", id)
	}
	if err != nil {
		return nil, dbErrorf("read task %s: %w", id, err)
	}
	return row.task(), nil
}

// Tasks lists a container's tasks, newest first; also after the container was deleted. A
// container without tasks (or unknown) yields an empty list.
func (s *DB) Tasks(ctx context.Context, containerID string) ([]*gateway.Task, error) {
	return s.selectTasks(ctx, tasksQuery, containerID)
}

// UnsettledTasks lists the tasks the reconciler still follows, oldest first: not terminal, or
// terminal but not yet accounted or with the log not yet sealed.
func (s *DB) UnsettledTasks(ctx context.Context) ([]*gateway.Task, error) {
	return s.selectTasks(ctx, unsettledQuery)
}

var (
	tasksQuery = "SELECT " + taskColumns + " FROM tasks WHERE container_id = ? ORDER BY created_at DESC, id DESC"
	// The condition is the tasks_unsettled index's, verbatim, so the planner uses that index.
	unsettledQuery = "SELECT " + taskColumns +
		" FROM tasks WHERE state IN ('SUBMITTING', 'PENDING', 'RUNNING') OR accounted = 0 OR log_sealed = 0 ORDER BY created_at"
)

func (s *DB) selectTasks(ctx context.Context, query string, args ...any) ([]*gateway.Task, error) {
	var rows []taskRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, dbErrorf("list tasks: %w", err)
	}
	tasks := make([]*gateway.Task, len(rows))
	for i, r := range rows {
		tasks[i] = r.task()
	}
	return tasks, nil
}

// TaskEvents returns a task's history, oldest first. Returns CodeNotFound for an unknown task.
func (s *DB) TaskEvents(ctx context.Context, taskID string) ([]gateway.TaskEvent, error) {
	var rows []taskEventRow
	if err := s.db.SelectContext(ctx, &rows,
		"SELECT task_id, at, state, reason FROM task_events WHERE task_id = ? ORDER BY seq", taskID); err != nil {
		return nil, dbErrorf("read task %s history: %w", taskID, err)
	}
	if len(rows) == 0 {
		// Every stored task has its first event, so no rows means no task; ask to be sure.
		if _, err := s.Task(ctx, taskID); err != nil {
			return nil, err
		}
	}
	events := make([]gateway.TaskEvent, len(rows))
	for i, r := range rows {
		events[i] = gateway.TaskEvent{TaskID: r.TaskID, At: r.At.time(), State: r.State, Reason: r.Reason}
	}
	return events, nil
}

// TaskCounts counts all tasks by state.
func (s *DB) TaskCounts(ctx context.Context) (map[gateway.TaskState]int, error) {
	var rows []struct {
		State gateway.TaskState `db:"state"`
		N     int               `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, "SELECT state, COUNT(*) AS n FROM tasks GROUP BY state"); err != nil {
		return nil, dbErrorf("count tasks: %w", err)
	}
	counts := make(map[gateway.TaskState]int, len(rows))
	for _, r := range rows {
		counts[r.State] = r.N
	}
	return counts, nil
}
