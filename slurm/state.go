package slurm

import (
	"fmt"
	"strings"
)

// State is a Slurm job state, one of a closed set (the long names squeue %T
// and sacct print). ParseState refuses anything else.
type State string

// The job states of Slurm 22.05.
const (
	StatePending     State = "PENDING"
	StateRunning     State = "RUNNING"
	StateSuspended   State = "SUSPENDED"
	StateCompleting  State = "COMPLETING"
	StateConfiguring State = "CONFIGURING"
	StateResizing    State = "RESIZING"
	StateSignaling   State = "SIGNALING"
	StateStageOut    State = "STAGE_OUT"
	StateStopped     State = "STOPPED"
	StateRequeued    State = "REQUEUED"
	StateRequeueFed  State = "REQUEUE_FED"
	StateRequeueHold State = "REQUEUE_HOLD"
	StateResvDelHold State = "RESV_DEL_HOLD"
	StateSpecialExit State = "SPECIAL_EXIT"
	StateRevoked     State = "REVOKED"
	StateCompleted   State = "COMPLETED"
	StateCancelled   State = "CANCELLED"
	StateFailed      State = "FAILED"
	StateTimeout     State = "TIMEOUT"
	StateOutOfMemory State = "OUT_OF_MEMORY"
	StateNodeFail    State = "NODE_FAIL"
	StatePreempted   State = "PREEMPTED"
	StateBootFail    State = "BOOT_FAIL"
	StateDeadline    State = "DEADLINE"
)

// terminal marks the states after which a job never runs again.
var states = map[string]bool{
	"PENDING": false, "RUNNING": false, "SUSPENDED": false, "COMPLETING": false,
	"CONFIGURING": false, "RESIZING": false, "SIGNALING": false, "STAGE_OUT": false,
	"STOPPED": false, "REQUEUED": false, "REQUEUE_FED": false, "REQUEUE_HOLD": false,
	"RESV_DEL_HOLD": false, "SPECIAL_EXIT": false,
	"REVOKED": true, "COMPLETED": true, "CANCELLED": true, "FAILED": true, "TIMEOUT": true,
	"OUT_OF_MEMORY": true, "NODE_FAIL": true, "PREEMPTED": true, "BOOT_FAIL": true,
	"DEADLINE": true,
}

// canonical maps a state's name to the State constant, so a parsed State
// never keeps a reference into the text it came from.
var canonical = func() map[string]State {
	m := make(map[string]State, len(states))
	for name := range states {
		m[name] = State(name)
	}
	return m
}()

// ParseState reads a state as squeue or sacct print it. sacct's "CANCELLED by
// 1001" gives StateCancelled and by = "1001" (the uid that cancelled);
// otherwise by is "". An unknown state is an error wrapping ErrMalformed, never
// silently mapped.
func ParseState(s string) (st State, by string, err error) {
	name, rest, found := strings.Cut(s, " ")
	if _, ok := states[name]; !ok {
		return "", "", fmt.Errorf("unknown job state %q: %w", s, ErrMalformed)
	}
	if found {
		uid, ok := strings.CutPrefix(rest, "by ")
		if name != "CANCELLED" || !ok || uid == "" {
			return "", "", fmt.Errorf("unknown job state %q: %w", s, ErrMalformed)
		}
		by = uid
	}
	return canonical[name], by, nil
}

// Terminal reports whether a job in this state has ended for good. REQUEUED
// and the hold states are not terminal: the job will be pending again.
func (s State) Terminal() bool { return states[string(s)] }

// Reason is why a job is pending (or why it ended), as squeue %r prints it.
// The constants are the reasons the gateway acts on; any other reason is kept
// verbatim (Known reports false for it).
type Reason string

// The reasons batchgate distinguishes.
const (
	ReasonNone                     Reason = "None"
	ReasonBeginTime                Reason = "BeginTime"
	ReasonResources                Reason = "Resources"
	ReasonPriority                 Reason = "Priority"
	ReasonJobHeldUser              Reason = "JobHeldUser"
	ReasonJobHeldAdmin             Reason = "JobHeldAdmin"
	ReasonDependency               Reason = "Dependency"
	ReasonDependencyNeverSatisfied Reason = "DependencyNeverSatisfied"
	ReasonReqNodeNotAvail          Reason = "ReqNodeNotAvail"
	ReasonPartitionDown            Reason = "PartitionDown"
	ReasonNodeDown                 Reason = "NodeDown"
	ReasonBadConstraints           Reason = "BadConstraints"
	ReasonInvalidAccount           Reason = "InvalidAccount"
	ReasonQOSMaxGRESPerUser        Reason = "QOSMaxGRESPerUser"
	ReasonAssocGrpGRES             Reason = "AssocGrpGRES"
)

var knownReasons = map[Reason]bool{
	ReasonNone: true, ReasonBeginTime: true, ReasonResources: true, ReasonPriority: true,
	ReasonJobHeldUser: true, ReasonJobHeldAdmin: true, ReasonDependency: true,
	ReasonDependencyNeverSatisfied: true, ReasonReqNodeNotAvail: true,
	ReasonPartitionDown: true, ReasonNodeDown: true, ReasonBadConstraints: true,
	ReasonInvalidAccount: true, ReasonQOSMaxGRESPerUser: true, ReasonAssocGrpGRES: true,
}

// Known reports whether r is one of the Reason constants.
func (r Reason) Known() bool { return knownReasons[r] }

// parseReason maps squeue's reason text. "ReqNodeNotAvail, UnavailableNodes:gpu1"
// carries a detail after the comma; the Reason keeps only the code.
func parseReason(s string) Reason {
	code, _, _ := strings.Cut(s, ",")
	return Reason(code)
}
