package sqlite

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"batchgate/gateway"
)

// nanoTime is a time stored as INTEGER nanoseconds since the Unix epoch; the zero time is NULL.
// Integers keep ordering and cursor comparisons exact and cheap, and read back in UTC.
type nanoTime time.Time

// Value implements driver.Valuer.
func (t nanoTime) Value() (driver.Value, error) {
	if time.Time(t).IsZero() {
		return nil, nil
	}
	return time.Time(t).UnixNano(), nil
}

// Scan implements sql.Scanner.
func (t *nanoTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = nanoTime{}
	case int64:
		*t = nanoTime(time.Unix(0, v).UTC())
	default:
		return dbErrorf("time column: unexpected %T", src)
	}
	return nil
}

func nt(t time.Time) nanoTime { return nanoTime(t) }

func ntp(t *time.Time) nanoTime {
	if t == nil {
		return nanoTime{}
	}
	return nanoTime(*t)
}

func (t nanoTime) time() time.Time { return time.Time(t) }

func (t nanoTime) ptr() *time.Time {
	if time.Time(t).IsZero() {
		return nil
	}
	v := time.Time(t)
	return &v
}

// containerRow is a containers row as the store writes it (containerScan reads them); Env and
// Schedule are flattened into columns.
type containerRow struct {
	ID           string                 `db:"id"`
	Project      string                 `db:"project"`
	Owner        string                 `db:"owner"`
	Name         string                 `db:"name"`
	Image        string                 `db:"image"`
	Flavor       string                 `db:"flavor"`
	Command      string                 `db:"command"`
	Env          string                 `db:"env"`
	ScheduleKind gateway.ScheduleKind   `db:"schedule_kind"`
	ScheduleAt   nanoTime               `db:"schedule_at"`
	State        gateway.ContainerState `db:"state"`
	Favorite     bool                   `db:"favorite"`
	CurrentTask  string                 `db:"current_task"`
	CreatedAt    nanoTime               `db:"created_at"`
	UpdatedAt    nanoTime               `db:"updated_at"`
}

const containerColumns = `id, project, owner, name, image, flavor, command, env, schedule_kind,
	schedule_at, state, favorite, current_task, created_at, updated_at`

func toContainerRow(c *gateway.Container) (containerRow, error) {
	env := c.Env
	if env == nil {
		env = []gateway.EnvVar{}
	}
	b, err := json.Marshal(env)
	if err != nil {
		return containerRow{}, dbErrorf("encode env: %w", err)
	}
	return containerRow{
		ID: c.ID, Project: c.Project, Owner: c.Owner, Name: c.Name, Image: c.Image, Flavor: c.Flavor,
		Command: c.Command, Env: string(b), ScheduleKind: c.Schedule.Kind, ScheduleAt: ntp(c.Schedule.At),
		State: c.State, Favorite: c.Favorite, CurrentTask: c.CurrentTask,
		CreatedAt: nt(c.CreatedAt), UpdatedAt: nt(c.UpdatedAt),
	}, nil
}

// containerScan reads rows of containerColumns, in their order, into containers (the one way a
// container is read): about twice as fast as sqlx's reflection, and its scratch fields are reused
// from row to row.
type containerScan struct {
	env                  string
	at, created, updated nanoTime
	dest                 []any
	c                    *gateway.Container
}

func (r *containerScan) scan(rows interface{ Scan(...any) error }) (*gateway.Container, error) {
	c := &gateway.Container{}
	if r.dest == nil {
		r.dest = make([]any, 15)
	}
	d := r.dest
	d[0], d[1], d[2], d[3], d[4], d[5], d[6] = &c.ID, &c.Project, &c.Owner, &c.Name, &c.Image, &c.Flavor, &c.Command
	d[7], d[8], d[9], d[10], d[11], d[12] = &r.env, &c.Schedule.Kind, &r.at, &c.State, &c.Favorite, &c.CurrentTask
	d[13], d[14] = &r.created, &r.updated
	if err := rows.Scan(d...); err != nil {
		return nil, err
	}
	env, err := decodeEnv(r.env)
	if err != nil {
		return nil, dbErrorf("container %s: decode env: %w", c.ID, err)
	}
	c.Env, c.Schedule.At, c.CreatedAt, c.UpdatedAt = env, r.at.ptr(), r.created.time(), r.updated.time()
	return c, nil
}

// taskRow is a tasks row: gateway.Task with times as nanoTime.
type taskRow struct {
	ID             string            `db:"id"`
	ContainerID    string            `db:"container_id"`
	Project        string            `db:"project"`
	Owner          string            `db:"owner"`
	Flavor         string            `db:"flavor"`
	JobID          string            `db:"job_id"`
	State          gateway.TaskState `db:"state"`
	Reason         string            `db:"reason"`
	SubmitAttempts int               `db:"submit_attempts"`
	NextAttemptAt  nanoTime          `db:"next_attempt_at"`
	Begin          nanoTime          `db:"begin_at"`
	SubmittedAt    nanoTime          `db:"submitted_at"`
	EligibleAt     nanoTime          `db:"eligible_at"`
	StartedAt      nanoTime          `db:"started_at"`
	EndedAt        nanoTime          `db:"ended_at"`
	ExitCode       *int              `db:"exit_code"`
	Signal         *int              `db:"exit_signal"`
	GPUs           int               `db:"gpus"`
	CPUs           int               `db:"cpus"`
	ElapsedSec     int64             `db:"elapsed_seconds"`
	GPUHours       float64           `db:"gpu_hours"`
	CPUHours       float64           `db:"cpu_hours"`
	Cost           float64           `db:"cost"`
	Currency       string            `db:"currency"`
	PricePerHour   float64           `db:"price_per_hour"`
	Accounted      bool              `db:"accounted"`
	LogPath        string            `db:"log_path"`
	LogObject      string            `db:"log_object"`
	LogSealed      bool              `db:"log_sealed"`
	Script         string            `db:"script"`
	StopRequested  bool              `db:"stop_requested"`
	CreatedAt      nanoTime          `db:"created_at"`
	UpdatedAt      nanoTime          `db:"updated_at"`
}

const taskColumns = `id, container_id, project, owner, flavor, job_id, state, reason, submit_attempts,
	next_attempt_at, begin_at, submitted_at, eligible_at, started_at, ended_at, exit_code, exit_signal,
	gpus, cpus, elapsed_seconds, gpu_hours, cpu_hours, cost, currency, price_per_hour, accounted,
	log_path, log_object, log_sealed, script, stop_requested, created_at, updated_at`

// taskInsert and taskUpdate name every column of taskColumns; the update leaves the identity
// columns (id, container, project, owner, created_at) as first written.
var (
	taskInsert = "INSERT INTO tasks (" + taskColumns + ") VALUES (" + namedParams(taskColumns) + ")"
	taskUpdate = `UPDATE tasks SET flavor = :flavor, job_id = :job_id, state = :state, reason = :reason,
		submit_attempts = :submit_attempts, next_attempt_at = :next_attempt_at, begin_at = :begin_at,
		submitted_at = :submitted_at, eligible_at = :eligible_at, started_at = :started_at,
		ended_at = :ended_at, exit_code = :exit_code, exit_signal = :exit_signal, gpus = :gpus,
		cpus = :cpus, elapsed_seconds = :elapsed_seconds, gpu_hours = :gpu_hours, cpu_hours = :cpu_hours,
		cost = :cost, currency = :currency, price_per_hour = :price_per_hour, accounted = :accounted,
		log_path = :log_path, log_object = :log_object, log_sealed = :log_sealed, script = :script,
		stop_requested = :stop_requested, updated_at = :updated_at
		WHERE id = :id`
)

func toTaskRow(t *gateway.Task) taskRow {
	return taskRow{
		ID: t.ID, ContainerID: t.ContainerID, Project: t.Project, Owner: t.Owner, Flavor: t.Flavor,
		JobID: t.JobID, State: t.State, Reason: t.Reason, SubmitAttempts: t.SubmitAttempts,
		NextAttemptAt: ntp(t.NextAttemptAt), Begin: nt(t.Begin), SubmittedAt: ntp(t.SubmittedAt),
		EligibleAt: ntp(t.EligibleAt), StartedAt: ntp(t.StartedAt), EndedAt: ntp(t.EndedAt),
		ExitCode: t.ExitCode, Signal: t.Signal, GPUs: t.GPUs, CPUs: t.CPUs, ElapsedSec: t.ElapsedSec,
		GPUHours: t.GPUHours, CPUHours: t.CPUHours, Cost: t.Cost, Currency: t.Currency,
		PricePerHour: t.PricePerHour, Accounted: t.Accounted, LogPath: t.LogPath, LogObject: t.LogObject,
		LogSealed: t.LogSealed, Script: t.Script, StopRequested: t.StopRequested, CreatedAt: nt(t.CreatedAt), UpdatedAt: nt(t.UpdatedAt),
	}
}

func (r taskRow) task() *gateway.Task {
	return &gateway.Task{
		ID: r.ID, ContainerID: r.ContainerID, Project: r.Project, Owner: r.Owner, Flavor: r.Flavor,
		JobID: r.JobID, State: r.State, Reason: r.Reason, SubmitAttempts: r.SubmitAttempts,
		NextAttemptAt: r.NextAttemptAt.ptr(), Begin: r.Begin.time(), SubmittedAt: r.SubmittedAt.ptr(),
		EligibleAt: r.EligibleAt.ptr(), StartedAt: r.StartedAt.ptr(), EndedAt: r.EndedAt.ptr(),
		ExitCode: r.ExitCode, Signal: r.Signal, GPUs: r.GPUs, CPUs: r.CPUs, ElapsedSec: r.ElapsedSec,
		GPUHours: r.GPUHours, CPUHours: r.CPUHours, Cost: r.Cost, Currency: r.Currency,
		PricePerHour: r.PricePerHour, Accounted: r.Accounted, LogPath: r.LogPath, LogObject: r.LogObject,
		LogSealed: r.LogSealed, Script: r.Script, StopRequested: r.StopRequested, CreatedAt: r.CreatedAt.time(), UpdatedAt: r.UpdatedAt.time(),
	}
}

// taskEventRow is a task_events row.
type taskEventRow struct {
	TaskID string            `db:"task_id"`
	At     nanoTime          `db:"at"`
	State  gateway.TaskState `db:"state"`
	Reason string            `db:"reason"`
}

// namedParams turns "a, b,\n c" into ":a, :b, :c" for sqlx named statements.
func namedParams(columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = ":" + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// isUnique reports whether err is a UNIQUE (or PRIMARY KEY) violation of the named columns, as
// SQLite spells them: "table.col1, table.col2".
func isUnique(err error, columns string) bool {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return false
	}
	if se.ExtendedCode != sqlite3.ErrConstraintUnique && se.ExtendedCode != sqlite3.ErrConstraintPrimaryKey {
		return false
	}
	return strings.HasSuffix(se.Error(), "constraint failed: "+columns)
}
