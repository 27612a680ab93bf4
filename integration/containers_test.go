package integration

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
)

type apiContainer struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	CurrentTask string `json:"current_task"`
}

type apiTask struct {
	ID         string     `json:"id"`
	JobID      string     `json:"job_id"`
	State      string     `json:"state"`
	Reason     string     `json:"reason"`
	ExitCode   *int       `json:"exit_code"`
	EligibleAt *time.Time `json:"eligible_at"`
	Begin      time.Time  `json:"begin"`
	LogPath    string     `json:"log_path"`
	Accounted  bool       `json:"accounted"`
	LogSealed  bool       `json:"log_sealed"`
	GPUs       int        `json:"gpus"`
}

func (g *devGateway) waitTask(t *testing.T, user, id string, timeout time.Duration, what string, cond func(apiTask) bool) apiTask {
	t.Helper()
	var task apiTask
	eventually(t, timeout, what, func() bool {
		task = apiTask{}
		g.call(t, user, "GET", "/api/v1/tasks/"+id, nil, &task)
		return cond(task)
	})
	return task
}

func (g *devGateway) container(t *testing.T, user, id string) apiContainer {
	t.Helper()
	var c apiContainer
	if st := g.call(t, user, "GET", "/api/v1/containers/"+id, nil, &c); st != http.StatusOK {
		t.Fatalf("get container: %d", st)
	}
	return c
}

// TestManualContainerRunsToCompletion: create -> start (manual) -> Ready -> Running -> Inactive,
// the task COMPLETED with its exit code, run as alice, with the flavor's 2 GPUs visible inside.
func TestManualContainerRunsToCompletion(t *testing.T) {
	g := startDevGateway(t, nil)
	var c apiContainer
	st := g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "hello", "image": "busybox", "flavor": "gpu-2",
		"command": `id -un; echo "gpus=$CUDA_VISIBLE_DEVICES"; echo "job=$SLURM_JOB_ID"; sleep 4; echo done`,
		"env":     []map[string]string{{"name": "GREETING", "value": "a,b=c 'q' $(x)"}},
	}, &c)
	if st != http.StatusCreated || c.State != "Inactive" {
		t.Fatalf("create: %d %+v", st, c)
	}
	var task apiTask
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task); st != http.StatusAccepted {
		t.Fatalf("start: %d %+v", st, task)
	}
	if task.JobID == "" || task.State != "PENDING" {
		t.Fatalf("started task: %+v", task)
	}
	g.waitTask(t, "alice", task.ID, 60*time.Second, "the task to run", func(x apiTask) bool { return x.State == "RUNNING" })
	if got := g.container(t, "alice", c.ID); got.State != "Running" {
		t.Errorf("container %s while its task runs, want Running", got.State)
	}
	done := g.waitTask(t, "alice", task.ID, 90*time.Second, "the task to be settled", func(x apiTask) bool { return x.Accounted })
	if done.State != "COMPLETED" || done.ExitCode == nil || *done.ExitCode != 0 {
		t.Fatalf("finished task: %+v", done)
	}
	if got := g.container(t, "alice", c.ID); got.State != "Inactive" {
		t.Errorf("container %s after its task ended, want Inactive", got.State)
	}
	log, err := os.ReadFile(done.LogPath)
	if err != nil {
		t.Fatalf("task log: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 4 || lines[0] != "alice" || lines[2] != "job="+task.JobID || lines[3] != "done" {
		t.Fatalf("log = %q", log)
	}
	if gpus := strings.Split(strings.TrimPrefix(lines[1], "gpus="), ","); len(gpus) != 2 || gpus[0] == "" {
		t.Errorf("the container saw GPUs %q, want the 2 allocated", lines[1])
	}

	// The log outlives the job: sealed in COS, byte-equal, downloadable.
	g.waitTask(t, "alice", task.ID, 60*time.Second, "the log to be sealed", func(x apiTask) bool { return x.LogSealed })
	var dl struct {
		URL string `json:"url"`
	}
	if st := g.call(t, "alice", "GET", "/api/v1/tasks/"+task.ID+"/log/download", nil, &dl); st != http.StatusOK || dl.URL == "" {
		t.Fatalf("download: %d %+v", st, dl)
	}
	resp, err := http.Get(dl.URL)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(sealed, log) {
		t.Fatalf("sealed log (%d) = %q, want the file %q", resp.StatusCode, sealed, log)
	}
	if st := g.call(t, "bob", "GET", "/api/v1/tasks/"+task.ID+"/log/download", nil, nil); st != http.StatusNotFound {
		t.Errorf("bob downloading alice's log: %d, want 404", st)
	}
}

// TestScheduledContainerWaitsForItsHour: scheduled at the next whole hour -> Ready, reason
// BeginTime, eligible at that hour; stop while waiting -> CANCELLED and Inactive.
func TestScheduledContainerWaitsForItsHour(t *testing.T) {
	g := startDevGateway(t, nil)
	hour := gateway.NextWholeHour(time.Now(), time.UTC)
	var c apiContainer
	st := g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "hourly", "image": "busybox", "flavor": "gpu-1", "command": "echo on the hour",
		"schedule": map[string]string{"kind": "at", "at": hour.Format(time.RFC3339)},
	}, &c)
	if st != http.StatusCreated {
		t.Fatalf("create: %d", st)
	}
	st, preview := g.text(t, "alice", "/api/v1/containers/"+c.ID+"/script")
	if st != http.StatusOK {
		t.Fatalf("script preview: %d %s", st, preview)
	}
	var task apiTask
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task); st != http.StatusAccepted {
		t.Fatalf("start: %d", st)
	}
	checkTaskScript(t, g, task, preview)
	waiting := g.waitTask(t, "alice", task.ID, 30*time.Second, "reason BeginTime", func(x apiTask) bool {
		return x.Reason == "BeginTime" && x.EligibleAt != nil
	})
	if !waiting.EligibleAt.Equal(hour) || !waiting.Begin.Equal(hour) {
		t.Errorf("eligible at %v, begin %v, want %v", waiting.EligibleAt, waiting.Begin, hour)
	}
	if got := g.container(t, "alice", c.ID); got.State != "Ready" {
		t.Errorf("container %s, want Ready", got.State)
	}
	var stopped apiTask
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/stop", nil, &stopped); st != http.StatusOK || stopped.State != "CANCELLED" {
		t.Fatalf("stop: %d %+v", st, stopped)
	}
	if got := g.container(t, "alice", c.ID); got.State != "Inactive" {
		t.Errorf("container %s after stop, want Inactive", got.State)
	}
	g.waitTask(t, "alice", task.ID, 60*time.Second, "the cancelled task to be settled from sacct", func(x apiTask) bool {
		return x.Accounted && x.State == "CANCELLED"
	})
}

// checkTaskScript: the task's script is the container's preview taken just before the start
// (the preview's placeholder task id aside), names the task in --comment, and is byte for byte
// the batch script Slurm holds for the job; bob, who may not see the task, gets a 404.
func checkTaskScript(t *testing.T, g *devGateway, task apiTask, preview string) {
	t.Helper()
	st, script := g.text(t, "alice", "/api/v1/tasks/"+task.ID+"/script")
	if st != http.StatusOK || !strings.Contains(script, "--comment="+task.ID+"\n") {
		t.Fatalf("task script: %d %s", st, script)
	}
	m := regexp.MustCompile(`--comment=(\S+)`).FindStringSubmatch(preview)
	if m == nil {
		t.Fatalf("the preview has no --comment: %s", preview)
	}
	if want := strings.ReplaceAll(preview, m[1], task.ID); script != want {
		t.Errorf("task script:\n%s\nwant the preview taken before the start:\n%s", script, want)
	}
	if held := run(t, 10*time.Second, "scontrol", "write", "batch_script", task.JobID, "-"); held != strings.TrimSpace(script) {
		t.Errorf("Slurm holds for job %s:\n%s\nthe gateway serves:\n%s", task.JobID, held, script)
	}
	if st, body := g.text(t, "bob", "/api/v1/tasks/"+task.ID+"/script"); st != http.StatusNotFound || strings.Contains(body, "on the hour") {
		t.Errorf("bob reading alice's task script: %d %s, want 404", st, body)
	}
}

// text GETs path as user and returns the status and the body as text.
func (g *devGateway) text(t *testing.T, user, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", g.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStopWhileRunning cancels a running task.
func TestStopWhileRunning(t *testing.T) {
	g := startDevGateway(t, nil)
	var c apiContainer
	g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "long", "image": "busybox", "flavor": "cpu-4", "command": "sleep 300",
	}, &c)
	var task apiTask
	g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task)
	g.waitTask(t, "alice", task.ID, 60*time.Second, "the task to run", func(x apiTask) bool { return x.State == "RUNNING" })
	if st := g.call(t, "bob", "POST", "/api/v1/containers/"+c.ID+"/stop", nil, nil); st != http.StatusNotFound {
		t.Errorf("bob (member) stopping alice's container: %d, want 404", st)
	}
	if st := g.call(t, "carol", "POST", "/api/v1/containers/"+c.ID+"/stop", nil, nil); st != http.StatusNotFound {
		t.Errorf("carol (other project) stopping alice's container: %d, want 404", st)
	}
	var stopped apiTask
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/stop", nil, &stopped); st != http.StatusOK {
		t.Fatalf("stop: %d", st)
	}
	g.waitTask(t, "alice", task.ID, 60*time.Second, "the stopped task to be settled", func(x apiTask) bool {
		return x.Accounted && x.State == "CANCELLED"
	})
}

// TestBadRequestsAreClearProblems checks a few of the ways a request can be wrong.
func TestBadRequestsAreClearProblems(t *testing.T) {
	g := startDevGateway(t, nil)
	type problem struct {
		Status int `json:"status"`
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	cases := []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"project": "vision", "name": "x", "image": "busybox", "flavor": "gpu-1", "command": "true", "colour": "red"}, 400, "colour"},
		{map[string]any{"project": "vision", "name": 7}, 400, "name"},
		{map[string]any{"project": "vision", "name": "x", "image": "nope", "flavor": "gpu-1", "command": "true"}, 422, "image"},
		{map[string]any{"project": "vision", "name": "x", "image": "busybox", "flavor": "gpu-9", "command": "true"}, 422, "flavor"},
		{map[string]any{"project": "vision", "name": "x", "image": "busybox", "flavor": "gpu-1", "command": ""}, 422, "command"},
		{map[string]any{"project": "vision", "name": "x", "image": "busybox", "flavor": "gpu-1", "command": "true",
			"schedule": map[string]string{"kind": "at", "at": "2020-01-01T00:00:00Z"}}, 422, "schedule.at"},
		{map[string]any{"project": "vision", "name": "x", "image": "/etc/shadow", "flavor": "gpu-1", "command": "true"}, 422, "image"},
	}
	for _, c := range cases {
		var p problem
		st := g.call(t, "alice", "POST", "/api/v1/containers", c.body, &p)
		found := false
		for _, e := range p.Errors {
			found = found || e.Field == c.field
		}
		if st != c.status || !found {
			t.Errorf("%v: %d %+v, want %d naming %s", c.body, st, p, c.status, c.field)
		}
	}
	var list struct {
		Items []apiContainer `json:"items"`
	}
	g.call(t, "alice", "GET", "/api/v1/containers", nil, &list)
	if len(list.Items) != 0 {
		t.Errorf("bad requests left %d containers behind", len(list.Items))
	}
	if st := g.call(t, "", "GET", "/api/v1/containers", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", st)
	}
}
