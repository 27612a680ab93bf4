package gateway

import "testing"

// TestContainerTransitions walks the whole table: every (state, action) pair, allowed or not.
func TestContainerTransitions(t *testing.T) {
	states := []ContainerState{Inactive, Ready, Running}
	actions := []Action{ActStart, ActTaskRunning, ActTaskEnded, ActStop, ActUpdate, ActDelete}
	want := map[ContainerState]map[Action]ContainerState{
		Inactive: {ActStart: Ready, ActUpdate: Inactive, ActDelete: Inactive},
		Ready:    {ActTaskRunning: Running, ActTaskEnded: Inactive, ActStop: Inactive},
		Running:  {ActTaskEnded: Inactive, ActStop: Inactive},
	}
	for _, s := range states {
		for _, a := range actions {
			next, err := s.Next(a)
			w, allowed := want[s][a]
			switch {
			case allowed && (err != nil || next != w):
				t.Errorf("%s --%s--> got %s, %v; want %s", s, a, next, err, w)
			case !allowed && (err == nil || ErrorCode(err) != CodeConflict):
				t.Errorf("%s --%s--> allowed (%s); want a conflict", s, a, next)
			}
		}
	}
}

func TestTaskStates(t *testing.T) {
	for _, s := range []TaskState{TaskSubmitting, TaskPending, TaskRunning} {
		if s.Terminal() {
			t.Errorf("%s is terminal", s)
		}
	}
	for _, s := range []TaskState{TaskCompleted, TaskFailed, TaskCancelled, TaskTimeout, TaskOutOfMemory, TaskNodeFail} {
		if !s.Terminal() || ContainerStateFor(s) != Inactive {
			t.Errorf("%s: terminal=%v container=%s", s, s.Terminal(), ContainerStateFor(s))
		}
	}
	if ContainerStateFor(TaskPending) != Ready || ContainerStateFor(TaskSubmitting) != Ready || ContainerStateFor(TaskRunning) != Running {
		t.Error("active task states map to the wrong container states")
	}
	if TaskState("WAT").Valid() || !TaskOutOfMemory.Valid() {
		t.Error("Valid is wrong")
	}
}

func TestPrincipalAccess(t *testing.T) {
	alice := Principal{User: "alice", Projects: map[string]Role{"vision": RoleMember}}
	bobAdmin := Principal{User: "bob", Projects: map[string]Role{"vision": RoleAdmin}}
	carol := Principal{User: "carol", Projects: map[string]Role{"speech": RoleAdmin}}
	site := Principal{User: "root", SiteAdmin: true}
	cases := []struct {
		p     Principal
		owner string
		want  bool
	}{
		{alice, "alice", true}, {alice, "bob", false}, {bobAdmin, "alice", true},
		{carol, "alice", false}, {site, "alice", true},
	}
	for _, c := range cases {
		if got := c.p.CanAccess("vision", c.owner); got != c.want {
			t.Errorf("%s on vision/%s: %v, want %v", c.p.User, c.owner, got, c.want)
		}
	}
}
