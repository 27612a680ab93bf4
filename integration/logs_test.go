package integration

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sseEvent is one server-sent event.
type sseEvent struct{ id, event, data string }

// followLog opens the log stream of a task from offset and returns a reader of its events.
func (g *devGateway) followLog(t *testing.T, user, taskID string, from int64) (next func() sseEvent, close func()) {
	t.Helper()
	req, _ := http.NewRequest("GET", g.URL+"/api/v1/tasks/"+taskID+"/log?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+g.tokens[user])
	req.Header.Set("Last-Event-ID", strconv.FormatInt(from, 10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("follow log: %v %v", resp, err)
	}
	r := bufio.NewReader(resp.Body)
	next = func() sseEvent {
		var ev sseEvent
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read log stream: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			case line == "" && ev.event != "":
				return ev
			}
		}
	}
	return next, func() { resp.Body.Close() }
}

// TestLogFollowResumesWithoutLossOrRepeat follows a running task's log live, disconnects, resumes
// with Last-Event-ID, and checks that the lines received are exactly the log's, then the end event.
func TestLogFollowResumesWithoutLossOrRepeat(t *testing.T) {
	g := startDevGateway(t, nil)
	var c apiContainer
	g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "chatty", "image": "busybox", "flavor": "cpu-4",
		"command": `i=1; while [ $i -le 40 ]; do echo "line $i"; i=$((i+1)); sleep 0.2; done`,
	}, &c)
	var task apiTask
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task); st != http.StatusAccepted {
		t.Fatalf("start: %d", st)
	}
	var lines []string
	var last string
	next, closeStream := g.followLog(t, "alice", task.ID, 0)
	for len(lines) < 10 {
		ev := next()
		if ev.event != "line" {
			t.Fatalf("event %+v before 10 lines", ev)
		}
		var d struct{ Line string }
		json.Unmarshal([]byte(ev.data), &d)
		lines, last = append(lines, d.Line), ev.id
	}
	closeStream()
	from, _ := strconv.ParseInt(last, 10, 64)
	next, closeStream = g.followLog(t, "alice", task.ID, from)
	defer closeStream()
	var end sseEvent
	for {
		ev := next()
		if ev.event == "end" {
			end = ev
			break
		}
		var d struct{ Line string }
		json.Unmarshal([]byte(ev.data), &d)
		lines = append(lines, d.Line)
	}
	if !strings.Contains(end.data, `"COMPLETED"`) {
		t.Errorf("end event %q, want the task's final state", end.data)
	}
	done := g.waitTask(t, "alice", task.ID, 30*time.Second, "settled", func(x apiTask) bool { return x.Accounted })
	file, err := os.ReadFile(done.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSuffix(string(file), "\n"); strings.Join(lines, "\n") != want {
		t.Fatalf("followed lines (%d) differ from the log file:\n%q\nwant\n%q", len(lines), strings.Join(lines, "\n"), want)
	}
}
