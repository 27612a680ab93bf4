package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/gatewaytest"
	"batchgate/gateway/httpapi"
	"batchgate/gateway/sqlite"
)

// api is the HTTP API over a real Service, a real SQLite file and a fake Slurm.
type api struct {
	srv    *httpapi.Server
	slurm  *gatewaytest.Scheduler
	db     *sqlite.DB
	tokens map[string]string
}

func newAPI(t testing.TB, loc *time.Location) *api {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "api.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sched := gatewaytest.NewScheduler()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := gateway.NewService(gateway.Config{
		Location: loc,
		Flavors: []gateway.Flavor{{Name: "gpu-1", GPUs: 1, CPUs: 1, MemoryMB: 1000, Partition: "gpu",
			TimeLimit: time.Hour, PricePerHour: 2.5, Currency: "USD"}},
		HomeTemplate: "/hfs/home/{user}", WorkTemplate: "/hfs/work/{user}", LogDirTemplate: "{work}/.batchgate/logs",
	}, db, sched, gatewaytest.Images{}, gatewaytest.Logs{}, gateway.NewBroker(100), log)
	a := &api{slurm: sched, db: db, tokens: map[string]string{}}
	a.srv = httpapi.New(httpapi.Options{Logger: log, Service: svc, Auth: gateway.Authenticator{Tokens: db}, Audit: db, BodyLimit: 64 << 10})
	now := time.Now().UTC()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.AddProject(ctx, gateway.Project{Name: "vision", CreatedAt: now}))
	for _, u := range []string{"alice", "mallory"} {
		must(db.AddUser(ctx, gateway.User{Name: u, CreatedAt: now}))
		token, hash := gateway.NewToken()
		_, err := db.CreateToken(ctx, u, "t", hash, nil)
		must(err)
		a.tokens[u] = token
	}
	must(db.AddMember(ctx, "vision", "alice", gateway.RoleMember))
	return a
}

// do sends a request through app.Test and returns the status and body.
func (a *api) do(t *testing.T, user, method, path, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+a.tokens[user])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := a.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

const goodSpec = `{"project":"vision","name":"train","image":"pytorch","flavor":"gpu-1","command":"python train.py"}`

func TestOpenAPIMatchesRoutes(t *testing.T) {
	a := newAPI(t, time.UTC)
	status, _, body := a.do(t, "", "GET", "/api/v1/openapi.json", "")
	if status != 200 {
		t.Fatalf("openapi.json: %d", status)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi document: %v %q", err, doc.OpenAPI)
	}
	var documented, routed []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	for _, r := range a.srv.App().GetRoutes(true) {
		if !strings.HasPrefix(r.Path, "/api/v1/") || r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		path := r.Path
		for _, p := range r.Params {
			path = strings.Replace(path, ":"+p, "{"+p+"}", 1)
		}
		routed = append(routed, r.Method+" "+path)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Fatalf("OpenAPI and routes differ:\ndocumented:\n%s\nrouted:\n%s", strings.Join(documented, "\n"), strings.Join(routed, "\n"))
	}
}

type problem struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Title  string `json:"title"`
	Errors []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

func TestBadInputIsAProblemNamingTheField(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	a := newAPI(t, ny)
	cases := []struct {
		name, body, ctype string
		status            int
		field             string
	}{
		{"malformed", `{"name":`, "", 400, ""},
		{"two objects", goodSpec + goodSpec, "", 400, ""},
		{"unknown field", `{"name":"x","colour":"red"}`, "", 400, "colour"},
		{"field name in the wrong case", strings.Replace(goodSpec, `"name"`, `"Name"`, 1), "", 400, "Name"},
		{"nested field name in the wrong case", strings.Replace(goodSpec, `}`, `,"env":[{"NAME":"A","value":"x"}]}`, 1), "", 400, "env[0].NAME"},
		{"wrong type", `{"name":["x"]}`, "", 400, "name"},
		{"env not a name", strings.Replace(goodSpec, `}`, `,"env":[{"name":"1A","value":"x"}]}`, 1), "", 422, "env[0].name"},
		{"DST gap", strings.Replace(goodSpec, `}`, `,"schedule":{"kind":"at","at":"2027-03-14T02:00"}}`, 1), "", 422, "schedule.at"},
		{"not whole hour", strings.Replace(goodSpec, `}`, `,"schedule":{"kind":"at","at":"2030-01-01T10:30:00-05:00"}}`, 1), "", 422, "schedule.at"},
		{"unknown flavor", strings.Replace(goodSpec, `gpu-1`, `gpu-99`, 1), "", 422, "flavor"},
		{"not json", goodSpec, "text/plain", 415, "Content-Type"},
	}
	for _, c := range cases {
		headers := []string{}
		if c.ctype != "" {
			headers = append(headers, "Content-Type", c.ctype)
		}
		status, h, body := a.do(t, "alice", "POST", "/api/v1/containers", c.body, headers...)
		var p problem
		_ = json.Unmarshal(body, &p)
		if status != c.status || h.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s %s, want %d problem+json", c.name, status, h.Get("Content-Type"), body, c.status)
			continue
		}
		if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field || p.Errors[0].Detail == "") {
			t.Errorf("%s: errors %+v, want field %s with a detail", c.name, p.Errors, c.field)
		}
	}
	// An unknown field's problem says which names would do.
	_, _, body := a.do(t, "alice", "POST", "/api/v1/containers", `{"name":"x","colour":"red"}`)
	if !strings.Contains(string(body), "the fields here are project, name, image, flavor") {
		t.Errorf("unknown field: %s, want the accepted names", body)
	}
	if status, _, body := a.do(t, "alice", "GET", "/api/v1/containers", ""); status != 200 || !strings.Contains(string(body), `"items":[]`) {
		t.Errorf("bad requests left something behind: %d %s", status, body)
	}
}

// TestBodyTooLarge goes through a real listener: an oversized body is refused from its
// Content-Length, before it is read. The client sends only the headers: the server answers and
// closes, and a client still writing a body could see a reset instead of the answer.
func TestBodyTooLarge(t *testing.T) {
	a := newAPI(t, time.UTC)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go a.srv.Serve(ln)
	t.Cleanup(func() { a.srv.Shutdown(context.Background()) })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "POST /api/v1/containers HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"+
		"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", a.tokens["alice"], 70<<10)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || !strings.Contains(string(b), `"status":413`) {
		t.Fatalf("oversized body: %d %s, want a 413 problem", resp.StatusCode, b)
	}
}

func TestCreateStartStopDeleteWithIdempotency(t *testing.T) {
	a := newAPI(t, time.UTC)
	status, h, body := a.do(t, "alice", "POST", "/api/v1/containers", goodSpec, "Idempotency-Key", "k-1")
	var c gateway.Container
	if err := json.Unmarshal(body, &c); err != nil || status != 201 || h.Get("Location") != "/api/v1/containers/"+c.ID {
		t.Fatalf("create: %d %s %v", status, body, err)
	}
	status, _, body = a.do(t, "alice", "POST", "/api/v1/containers", goodSpec, "Idempotency-Key", "k-1")
	var again gateway.Container
	_ = json.Unmarshal(body, &again)
	if status != 201 || again.ID != c.ID {
		t.Fatalf("replayed create: %d, id %s, want the first %s", status, again.ID, c.ID)
	}
	if status, _, _ := a.do(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", "", "Idempotency-Key", "s-1"); status != 202 {
		t.Fatalf("start: %d", status)
	}
	if status, _, _ := a.do(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", "", "Idempotency-Key", "s-1"); status != 202 || a.slurm.Submitted() != 1 {
		t.Fatalf("replayed start: %d, %d submissions", status, a.slurm.Submitted())
	}
	if status, _, body := a.do(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", ""); status != 409 {
		t.Fatalf("second start: %d %s, want 409", status, body)
	}
	if status, _, _ := a.do(t, "alice", "DELETE", "/api/v1/containers/"+c.ID, ""); status != 409 {
		t.Fatalf("delete while Ready: %d, want 409", status)
	}
	status, _, body = a.do(t, "alice", "GET", "/api/v1/containers/"+c.ID+"/script", "")
	if status != 200 || !strings.Contains(string(body), "--comment=tsk_") {
		t.Fatalf("script: %d %s", status, body)
	}
	if status, _, _ := a.do(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/stop", ""); status != 200 {
		t.Fatalf("stop: %d", status)
	}
	if status, _, _ := a.do(t, "alice", "DELETE", "/api/v1/containers/"+c.ID, ""); status != 204 {
		t.Fatalf("delete: %d", status)
	}
	if status, _, _ := a.do(t, "alice", "GET", "/api/v1/containers/"+c.ID, ""); status != 404 {
		t.Fatalf("get after delete: %d", status)
	}
}

func TestAuthentication(t *testing.T) {
	a := newAPI(t, time.UTC)
	status, h, _ := a.do(t, "", "GET", "/api/v1/flavors", "")
	if status != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %q", status, h.Get("WWW-Authenticate"))
	}
	// mallory is no member of vision: her create names the project.
	status, _, body := a.do(t, "mallory", "POST", "/api/v1/containers", goodSpec)
	if status != 422 || !strings.Contains(string(body), `"field":"project"`) {
		t.Fatalf("mallory creates in vision: %d %s", status, body)
	}
	a.tokens["bogus"] = "bg_not-a-real-token"
	for range 10 {
		a.do(t, "bogus", "GET", "/api/v1/flavors", "")
	}
	if status, h, _ := a.do(t, "bogus", "GET", "/api/v1/flavors", ""); status != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("after 10 failures: %d, Retry-After %q, want 429", status, h.Get("Retry-After"))
	}
}

func TestEventsStreamAndResume(t *testing.T) {
	a := newAPI(t, time.UTC)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go a.srv.Serve(ln)
	t.Cleanup(func() { a.srv.Shutdown(context.Background()) })
	base := "http://" + ln.Addr().String()

	open := func(lastID string) (*bufio.Reader, func()) {
		req, _ := http.NewRequest("GET", base+"/api/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+a.tokens["alice"])
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("events: %v %v", resp, err)
		}
		return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
	}
	next := func(r *bufio.Reader) (id, event, data string) {
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read event: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && event != "":
				return id, event, data
			}
		}
	}
	r, closeStream := open("")
	a.do(t, "alice", "POST", "/api/v1/containers", goodSpec)
	id1, ev, data := next(r)
	if ev != "container" || !strings.Contains(data, `"state":"Inactive"`) {
		t.Fatalf("first event %s %s", ev, data)
	}
	closeStream()
	// While disconnected, another change; resuming from id1 delivers exactly it.
	a.do(t, "alice", "POST", "/api/v1/containers", strings.Replace(goodSpec, "train", "train-2", 1))
	r, closeStream = open(id1)
	defer closeStream()
	id2, _, data := next(r)
	if id2 == id1 || !strings.Contains(data, `"name":"train-2"`) {
		t.Fatalf("resumed event %s %s after %s", id2, data, id1)
	}
}

func TestMetrics(t *testing.T) {
	a := newAPI(t, time.UTC)
	a.do(t, "alice", "GET", "/api/v1/flavors", "")
	status, _, body := a.do(t, "", "GET", "/metrics", "")
	if status != 200 || !strings.Contains(string(body), `batchgate_http_requests_total{method="GET",route="/api/v1/flavors",status="200"} 1`) ||
		!strings.Contains(string(body), "batchgate_reconcile_ticks_total") || !strings.Contains(string(body), "# TYPE batchgate_tasks gauge") {
		t.Fatalf("metrics: %d\n%s", status, body)
	}
}
