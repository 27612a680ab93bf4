package gateway

import "fmt"

// ContainerState is where a container is in its life.
type ContainerState string

// Container states (the seed service's words).
const (
	Inactive ContainerState = "Inactive" // nothing submitted; can be started, updated, deleted
	Ready    ContainerState = "Ready"    // a task is submitted and waits for its hour or for resources
	Running  ContainerState = "Running"  // its task runs
)

// Action is something that happens to a container: asked for by a user or seen in Slurm.
type Action string

// Actions.
const (
	ActStart       Action = "start"        // user: submit a task
	ActTaskRunning Action = "task_running" // Slurm: the task started
	ActTaskEnded   Action = "task_ended"   // Slurm: the task ended (any way)
	ActStop        Action = "stop"         // user: cancel the waiting or running task
	ActUpdate      Action = "update"       // user: change the spec
	ActDelete      Action = "delete"       // user: remove the container
)

// transitions is the container's whole state machine: from a state, an action leads to a state.
// A pair not listed is refused.
var transitions = map[ContainerState]map[Action]ContainerState{
	Inactive: {ActStart: Ready, ActUpdate: Inactive, ActDelete: Inactive},
	Ready:    {ActTaskRunning: Running, ActTaskEnded: Inactive, ActStop: Inactive},
	Running:  {ActTaskEnded: Inactive, ActStop: Inactive},
}

// Next returns the state after action, or a CodeConflict *Error saying what is allowed instead.
func (s ContainerState) Next(a Action) (ContainerState, error) {
	if next, ok := transitions[s][a]; ok {
		return next, nil
	}
	return s, &Error{Code: CodeConflict, Message: conflictMessage(s, a)}
}

func conflictMessage(s ContainerState, a Action) string {
	switch a {
	case ActStart:
		return fmt.Sprintf("the container is %s: it already has a task; stop it first", s)
	case ActStop:
		return fmt.Sprintf("the container is %s: there is no task to stop", s)
	case ActUpdate, ActDelete:
		return fmt.Sprintf("the container is %s: stop it (or let its task end) before you %s it", s, a)
	default:
		return fmt.Sprintf("the container is %s: %s is not possible", s, a)
	}
}

// TaskState is where one run of a container is, as Slurm sees it (plus Submitting, before Slurm
// has accepted it).
type TaskState string

// Task states. The terminal ones mirror Slurm's end states.
const (
	TaskSubmitting  TaskState = "SUBMITTING" // recorded; sbatch not yet confirmed (retried while Slurm is unreachable)
	TaskPending     TaskState = "PENDING"    // in the queue: waiting for its hour (BeginTime) or resources
	TaskRunning     TaskState = "RUNNING"
	TaskCompleted   TaskState = "COMPLETED"
	TaskFailed      TaskState = "FAILED"
	TaskCancelled   TaskState = "CANCELLED"
	TaskTimeout     TaskState = "TIMEOUT"
	TaskOutOfMemory TaskState = "OUT_OF_MEMORY"
	TaskNodeFail    TaskState = "NODE_FAIL"
	TaskPreempted   TaskState = "PREEMPTED"
	TaskBootFail    TaskState = "BOOT_FAIL"
	TaskDeadline    TaskState = "DEADLINE"
)

// Terminal reports whether the task has ended for good.
func (s TaskState) Terminal() bool {
	switch s {
	case TaskSubmitting, TaskPending, TaskRunning:
		return false
	}
	return true
}

// Valid reports whether s is one of the known task states.
func (s TaskState) Valid() bool {
	switch s {
	case TaskSubmitting, TaskPending, TaskRunning, TaskCompleted, TaskFailed, TaskCancelled, TaskTimeout,
		TaskOutOfMemory, TaskNodeFail, TaskPreempted, TaskBootFail, TaskDeadline:
		return true
	}
	return false
}

// ContainerStateFor is the container state that a current task in state s implies.
func ContainerStateFor(s TaskState) ContainerState {
	switch s {
	case TaskSubmitting, TaskPending:
		return Ready
	case TaskRunning:
		return Running
	}
	return Inactive
}
