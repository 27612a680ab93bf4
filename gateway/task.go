package gateway

import "time"

// Task is one run of a container: one Slurm job. Its row is written (state SUBMITTING) before
// sbatch is called, and the job carries the task's id as its comment, so a crash between the two
// is reconciled by finding the job, never by submitting again.
type Task struct {
	ID          string    `json:"id" db:"id"`
	ContainerID string    `json:"container_id" db:"container_id"`
	Project     string    `json:"project" db:"project"`
	Owner       string    `json:"owner" db:"owner"`
	Flavor      string    `json:"flavor" db:"flavor"`
	JobID       string    `json:"job_id,omitempty" db:"job_id"`
	State       TaskState `json:"state" db:"state"`
	// Reason is Slurm's pending reason (BeginTime, Resources, Priority ...) or why the task failed
	// or waits (for a SUBMITTING task: why Slurm has not accepted it yet).
	Reason         string     `json:"reason,omitempty" db:"reason"`
	SubmitAttempts int        `json:"submit_attempts" db:"submit_attempts"`
	NextAttemptAt  *time.Time `json:"-" db:"next_attempt_at"`
	// Begin is the --begin instant: the scheduled hour, or the moment of a manual start.
	Begin       time.Time  `json:"begin" db:"begin_at"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty" db:"submitted_at"`
	EligibleAt  *time.Time `json:"eligible_at,omitempty" db:"eligible_at"`
	StartedAt   *time.Time `json:"started_at,omitempty" db:"started_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty" db:"ended_at"`
	ExitCode    *int       `json:"exit_code,omitempty" db:"exit_code"`
	Signal      *int       `json:"signal,omitempty" db:"exit_signal"`
	// Usage, final once Accounted (read from sacct).
	GPUs          int       `json:"gpus" db:"gpus"`
	CPUs          int       `json:"cpus" db:"cpus"`
	ElapsedSec    int64     `json:"elapsed_seconds" db:"elapsed_seconds"`
	GPUHours      float64   `json:"gpu_hours" db:"gpu_hours"`
	CPUHours      float64   `json:"cpu_hours" db:"cpu_hours"`
	Cost          float64   `json:"cost" db:"cost"`
	Currency      string    `json:"currency" db:"currency"`
	PricePerHour  float64   `json:"price_per_hour" db:"price_per_hour"`
	Accounted     bool      `json:"accounted" db:"accounted"`
	LogPath       string    `json:"log_path" db:"log_path"`
	LogObject     string    `json:"log_object" db:"log_object"`
	LogSealed     bool      `json:"log_sealed" db:"log_sealed"`
	Script        string    `json:"-" db:"script"`
	StopRequested bool      `json:"stop_requested" db:"stop_requested"`
	CreatedAt     time.Time `json:"created_at" db:"created_at"`
	UpdatedAt     time.Time `json:"updated_at" db:"updated_at"`
}

// TaskEvent is one recorded change of a task's state, kept in the task's history.
type TaskEvent struct {
	TaskID string    `json:"task_id" db:"task_id"`
	At     time.Time `json:"at" db:"at"`
	State  TaskState `json:"state" db:"state"`
	Reason string    `json:"reason,omitempty" db:"reason"`
}

// JobStatus is what Slurm says about one job, in domain terms (from squeue or sacct).
type JobStatus struct {
	JobID      string
	User       string // the Unix login the job runs as
	Comment    string // the task id the gateway put in --comment
	Account    string // the Slurm account (the project); filled by accounting records
	Partition  string
	Name       string // the job name (accounting records)
	State      TaskState
	Reason     string
	SubmitAt   time.Time // zero when unknown
	EligibleAt time.Time
	StartAt    time.Time
	EndAt      time.Time
	ExitCode   *int
	Signal     *int
	GPUs       int
	CPUs       int
	ElapsedSec int64
	// Final is true when the record comes from accounting after the job ended: times and usage
	// will not change any more.
	Final bool
}

// ApplyUsage fills the task's usage figures from elapsed seconds and the allocation, priced at the
// task's price per hour.
func (t *Task) ApplyUsage(elapsedSec int64, gpus, cpus int) {
	t.ElapsedSec, t.GPUs, t.CPUs = elapsedSec, gpus, cpus
	hours := float64(elapsedSec) / 3600
	t.GPUHours = hours * float64(gpus)
	t.CPUHours = hours * float64(cpus)
	t.Cost = hours * t.PricePerHour
}
