package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
)

// TestTaskScriptIsWhatWasSubmitted: after a start, the task's script is the one rendered for that
// task (its own id in --comment), served as text to who may see the task and as a 404 problem to
// anyone else, like the task itself.
func TestTaskScriptIsWhatWasSubmitted(t *testing.T) {
	a := newAPI(t, time.UTC)
	task := startedTask(t, a)
	id := task.ID

	status, h, body := a.do(t, "alice", "GET", "/api/v1/tasks/"+id+"/script", "")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("script: %d %s %s", status, h.Get("Content-Type"), body)
	}
	if got := string(body); got != task.Script || !strings.Contains(got, "--comment="+id+"\n") ||
		!strings.Contains(got, "--account=vision") || !strings.Contains(got, "python train.py") {
		t.Errorf("script of %s:\n%s\nwant the stored one:\n%s", id, got, task.Script)
	}
	status, h, _ = a.do(t, "alice", "GET", "/api/v1/tasks/"+id+"/script?download=1", "")
	if status != 200 || !strings.Contains(h.Get("Content-Disposition"), id+".sbatch") {
		t.Errorf("download: %d, Content-Disposition %q", status, h.Get("Content-Disposition"))
	}

	for _, c := range []struct{ user, path string }{
		{"mallory", "/api/v1/tasks/" + id + "/script"},   // not a member of vision
		{"alice", "/api/v1/tasks/tsk_nosuchtask/script"}, // no such task
	} {
		status, h, body := a.do(t, c.user, "GET", c.path, "")
		if status != 404 || h.Get("Content-Type") != "application/problem+json" || strings.Contains(string(body), "python train.py") {
			t.Errorf("%s %s: %d %s %s, want a 404 problem", c.user, c.path, status, h.Get("Content-Type"), body)
		}
	}
}

// TestTaskScriptMissing: a task without a stored script is a 404 that says so, not an empty 200.
func TestTaskScriptMissing(t *testing.T) {
	a := newAPI(t, time.UTC)
	task := startedTask(t, a)
	task.Script = ""
	if err := a.db.SaveTask(context.Background(), task, nil); err != nil {
		t.Fatal(err)
	}
	status, h, body := a.do(t, "alice", "GET", "/api/v1/tasks/"+task.ID+"/script", "")
	if status != 404 || h.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(body), "no stored script") {
		t.Errorf("script: %d %s %s, want a 404 problem saying there is no stored script", status, h.Get("Content-Type"), body)
	}
}

// startedTask creates alice's container from goodSpec, starts it through the API and returns its
// task as stored.
func startedTask(t *testing.T, a *api) *gateway.Task {
	t.Helper()
	status, _, body := a.do(t, "alice", "POST", "/api/v1/containers", goodSpec)
	var c gateway.Container
	if err := json.Unmarshal(body, &c); err != nil || status != 201 {
		t.Fatalf("create: %d %s %v", status, body, err)
	}
	if status, _, body := a.do(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", ""); status != 202 {
		t.Fatalf("start: %d %s", status, body)
	}
	tasks, err := a.db.Tasks(context.Background(), c.ID)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("tasks: %v %v", tasks, err)
	}
	return tasks[0]
}
