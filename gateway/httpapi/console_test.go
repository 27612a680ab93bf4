package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestConsoleServedAtRoot: the embedded console is served at "/", with its assets, while API,
// health and unknown API paths keep their own answers.
func TestConsoleServedAtRoot(t *testing.T) {
	a := newAPI(t, time.UTC)
	status, h, body := a.do(t, "", "GET", "/", "")
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(string(body), `src="/js/app.js"`) {
		t.Fatalf("GET /: %d %q %.200s", status, h.Get("Content-Type"), body)
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Fatalf("GET /: CSP %q", csp)
	}
	etag := h.Get("ETag")
	if status, _, _ := a.do(t, "", "GET", "/", "", "If-None-Match", etag); etag == "" || status != 304 {
		t.Fatalf("GET / with If-None-Match %q: %d, want 304", etag, status)
	}
	for path, ctype := range map[string]string{"/app.css": "text/css", "/js/app.js": "javascript", "/js/pages/create.js": "javascript"} {
		status, h, _ := a.do(t, "", "GET", path, "")
		if status != 200 || !strings.Contains(h.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %q, want 200 %s", path, status, h.Get("Content-Type"), ctype)
		}
	}
	if status, _, body := a.do(t, "", "GET", "/healthz", ""); status != 200 || strings.Contains(string(body), "<html") {
		t.Errorf("GET /healthz: %d %.100s", status, body)
	}
	for _, path := range []string{"/api/v1/nope", "/api/v2/containers", "/js/missing.js", "/index.html/x"} {
		user := "alice"
		status, h, _ := a.do(t, user, "GET", path, "")
		if status != 404 || h.Get("Content-Type") != "application/problem+json" {
			t.Errorf("GET %s: %d %q, want a problem+json 404", path, status, h.Get("Content-Type"))
		}
	}
	if status, _, _ := a.do(t, "", "POST", "/", ""); status == 200 {
		t.Errorf("POST /: 200, want the console to answer GET and HEAD only")
	}
}

// TestCluster: the caller learns the cluster's zone, the next allowed hour, their roles and binds.
func TestCluster(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	a := newAPI(t, loc)
	if status, _, _ := a.do(t, "", "GET", "/api/v1/cluster", ""); status != 401 {
		t.Fatalf("GET /api/v1/cluster without a token: %d, want 401", status)
	}
	status, _, body := a.do(t, "alice", "GET", "/api/v1/cluster", "")
	if status != 200 {
		t.Fatalf("GET /api/v1/cluster: %d %s", status, body)
	}
	var v struct {
		Timezone      string    `json:"timezone"`
		Now           time.Time `json:"now"`
		NextWholeHour time.Time `json:"next_whole_hour"`
		User          string    `json:"user"`
		Projects      []struct{ Name, Role string }
		Binds         []string `json:"binds"`
		LogObject     string   `json:"log_object"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	local := v.NextWholeHour.In(loc)
	if v.Timezone != "Asia/Kolkata" || local.Minute() != 0 || local.Second() != 0 || !v.NextWholeHour.After(v.Now) || v.NextWholeHour.Sub(v.Now) > time.Hour {
		t.Errorf("zone %q now %s next whole hour %s: want the next whole hour in Asia/Kolkata", v.Timezone, v.Now, v.NextWholeHour)
	}
	if v.User != "alice" || len(v.Projects) != 1 || v.Projects[0].Name != "vision" || v.Projects[0].Role != "member" {
		t.Errorf("identity: %+v", v)
	}
	if strings.Join(v.Binds, ",") != "/hfs/home/alice,/hfs/work/alice" || !strings.HasPrefix(v.LogObject, "logs/{project}/") {
		t.Errorf("storage: binds %v, log object %q", v.Binds, v.LogObject)
	}
}
