package gateway

import (
	"context"
	"time"
)

// This file declares what the Service needs from the outside world. Adapters satisfy these
// interfaces (gateway/sqlite, and in gateway/daemon thin adapters over slurm, apptainer and
// logship); tests use hand-written fakes.

// ContainerFilter selects containers for a listing. Cursor is the opaque value returned with the
// previous page ("" for the first page).
type ContainerFilter struct {
	// Visible limits the listing to what this principal may see.
	Visible Principal
	State   ContainerState // "" = any
	Name    string         // substring match, "" = any
	Cursor  string
	Limit   int
}

// Store keeps containers, tasks and their history. Methods return a CodeNotFound *Error when the
// thing asked for does not exist, never (nil, nil).
type Store interface {
	// CreateContainer inserts c. When key is not empty and the owner already used it for a create,
	// nothing is inserted and the earlier container's id is returned in a *ReplayError.
	// A name already used in the project is a CodeConflict error.
	CreateContainer(ctx context.Context, c *Container, key string) error
	Container(ctx context.Context, id string) (*Container, error)
	Containers(ctx context.Context, f ContainerFilter) (page []*Container, nextCursor string, err error)
	// UpdateContainer writes c's spec fields, only while the stored container is Inactive
	// (CodeConflict otherwise).
	UpdateContainer(ctx context.Context, c *Container) error
	// DeleteContainer removes an Inactive container; its tasks stay in the history.
	DeleteContainer(ctx context.Context, id string) error

	// StartTask records t (state SUBMITTING) as c's current task and moves c from Inactive to Ready,
	// atomically; CodeConflict when c is not Inactive any more. With a key already used by the owner
	// for a start, nothing changes and the earlier task's id comes back in a *ReplayError. (The
	// Service puts the caller in the key, so a key is the caller's, not the owner's.)
	StartTask(ctx context.Context, c *Container, t *Task, key string) error
	// SaveTasks writes each task, appends its event to its history when there is one, and sets the
	// state of its container to ContainerStateFor(t.State) when it is the container's current task
	// — all in one transaction; see TaskSave for UnlessStopped, Skipped and Container.
	SaveTasks(ctx context.Context, saves []TaskSave) error
	Task(ctx context.Context, id string) (*Task, error)
	// Tasks lists a container's tasks, newest first.
	Tasks(ctx context.Context, containerID string) ([]*Task, error)
	// UnsettledTasks lists tasks the reconciler still follows: not terminal, or terminal but not
	// yet accounted from sacct.
	UnsettledTasks(ctx context.Context) ([]*Task, error)
	TaskEvents(ctx context.Context, taskID string) ([]TaskEvent, error)
	// TaskCounts counts all tasks by state (for /metrics).
	TaskCounts(ctx context.Context) (map[TaskState]int, error)
}

// TaskSave is one task to write, with the history event to append (nil for none).
// UnlessStopped skips the write when the stored task has been stopped meanwhile (the reconciler's
// copy is older than the user's stop and must not undo it); the store then sets Skipped.
// When the task is its container's current task, the store moves the container's state with it
// and sets Container to the container as stored (so no second read is needed to publish it).
type TaskSave struct {
	Task          *Task
	Event         *TaskEvent
	UnlessStopped bool
	Skipped       bool
	Container     *Container
}

// ReplayError says an idempotency key was used before; ID is the resource that request made.
type ReplayError struct{ ID string }

func (e *ReplayError) Error() string { return "idempotency key already used for " + e.ID }

// Job is one Slurm job as the domain asks for it; the slurm adapter renders it.
type Job struct {
	Name      string
	Account   string
	Partition string
	GPUs      int
	GPUType   string
	CPUs      int
	MemoryMB  int
	TimeLimit time.Duration
	Begin     time.Time // the --begin instant
	WorkDir   string
	Output    string
	Comment   string   // the task id
	Command   []string // the body: the apptainer command line
	// Forward sets variables at run time from others of the job's environment: values only the
	// node knows, such as the GPUs Slurm allocated.
	Forward []Forward
}

// Forward sets variable Name from variable From of the job's environment when the job starts.
type Forward struct{ Name, From string }

// Scheduler is the cluster's batch system (Slurm). Errors carry CodeUnavailable when the
// controller cannot be reached (retry later), CodeInvalid when Slurm refused the job (with its
// message), CodeNotFound for an unknown job.
type Scheduler interface {
	// Script renders the exact batch script for job, the one Submit would receive.
	Script(job Job) ([]byte, error)
	Submit(ctx context.Context, user string, script []byte) (jobID string, err error)
	// BeginSubmit starts a submission as user before its script is known, so that the submitting
	// process starts up while the caller records the task (see Submission).
	BeginSubmit(ctx context.Context, user string) (Submission, error)
	// Queue returns every job in the queue (one call, however many tasks are followed).
	Queue(ctx context.Context) ([]JobStatus, error)
	// Accounting returns final records of jobs active between from and to, read in bounded
	// windows. jobIDs, when given, narrows the query to those jobs (for settling the gateway's own
	// tasks: a job cancelled while waiting for a future hour only appears when asked for by id).
	Accounting(ctx context.Context, from, to time.Time, jobIDs []string) ([]JobStatus, error)
	Cancel(ctx context.Context, user, jobID string) error
	StartNow(ctx context.Context, jobID string) error
}

// Submission is a submission begun before its script exists: no job can exist before Submit.
// Call Submit or Abort, once; Abort after Submit does nothing.
type Submission interface {
	// Submit hands over the script, with Scheduler.Submit's answer and errors.
	Submit(script []byte) (jobID string, err error)
	// Abort ends the submission without a job.
	Abort()
}

// Image is a container image a user may run.
type Image struct {
	Name    string            `json:"name"`
	Path    string            `json:"path"`
	Type    string            `json:"type"`
	Size    int64             `json:"size"`
	Arch    string            `json:"arch,omitempty"`
	Created *time.Time        `json:"created,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// Run is what the container command needs to know about one task.
type Run struct {
	Image   string // the resolved image path
	Command string // run by /bin/sh -c exactly as typed
	Env     []EnvVar
	Binds   []string // host directories bound at the same path (the user's HFS home and work)
	WorkDir string
	GPUs    int
}

// Images is the image catalog and the container runtime's command line.
type Images interface {
	List(ctx context.Context) ([]Image, error)
	// Resolve checks an image reference (a catalog name, or a path inside the user's HFS roots)
	// for user, returning CodeInvalid with a reason the user can act on.
	Resolve(ctx context.Context, ref, user string, roots []string) (Image, error)
	// Command returns the argv that runs r inside its image, and the variables the job must set
	// at run time for it (the allocation's GPUs).
	Command(r Run) ([]string, []Forward, error)
}

// Logs keeps task logs: written by the job on HFS, shipped to COS while it runs, sealed into one
// object when it has ended, so they outlive the job.
type Logs interface {
	// Prepare makes the directory of a task's log file on HFS, as the task's owner, before the job
	// is submitted: Slurm opens the output file before the job runs, and a missing or unwritable
	// directory would fail the job with no log at all. CodeInvalid means the directory cannot be
	// made (the task fails with that reason); other errors are retried.
	Prepare(ctx context.Context, owner, logPath string) error
	// Follow starts shipping a running task's log in the background, from its checkpoint; calling
	// it again for the same task does nothing.
	Follow(t *Task)
	// Seal ships what is left of an ended task's log and stores it as one object with a manifest.
	// It is safe to call again; errors (COS unreachable) mean "try later".
	Seal(ctx context.Context, t *Task) error
	// Tail returns the last n bytes of the log (CodeNotFound when there is none yet).
	Tail(ctx context.Context, t *Task, n int64) ([]byte, error)
	// Stream emits complete lines from byte offset from, each with the offset just past it, until
	// the log is sealed and fully emitted, or ctx ends.
	Stream(ctx context.Context, t *Task, from int64, emit func(next int64, line []byte) error) error
	// DownloadURL is a short-lived URL of the sealed log (CodeConflict while it is not sealed).
	DownloadURL(ctx context.Context, t *Task, ttl time.Duration) (string, error)
}
