package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/gatewaytest"
	"batchgate/gateway/httpapi"
	"batchgate/gateway/sqlite"
)

// Personas of the authorization matrix. owner is alice (member of vision), the owner of the
// container each case acts on; peer is bob (member of vision); padmin is vic (admin of vision);
// oadmin is carol (admin of speech); sadmin is root (site admin, member of nothing); disabled is
// dave (member of vision, disabled); expired and revoked are alice's own tokens.
const (
	anon     = "anonymous"
	owner    = "alice"
	peer     = "bob"
	padmin   = "vic"
	oadmin   = "carol"
	sadmin   = "root"
	disabled = "dave"
	expired  = "alice-expired"
	revoked  = "alice-revoked"
)

var personas = []string{anon, owner, peer, padmin, oadmin, sadmin, disabled, expired, revoked}

// world is the API over a real SQLite file with every persona, and containers of bob (vision)
// and carol (speech) made through the API, so the audit trail and the event ring hold them.
type world struct {
	opts   httpapi.Options
	svc    *gateway.Service
	slurm  *gatewaytest.Scheduler
	db     *sqlite.DB
	tokens map[string]string
	bobs   thing // bob's container in vision
	carols thing // carol's started container in speech
	n      int
}

// thing is a container as the leak check knows it: strings only its viewers may see.
type thing struct{ id, name, command, task string }

func (t thing) markers() []string { return []string{t.id, t.name, t.command, t.task} }

// matrixLogs answers a log that names its container, and a download URL, for every task.
type matrixLogs struct{ gatewaytest.Logs }

func (matrixLogs) Tail(_ context.Context, t *gateway.Task, _ int64) ([]byte, error) {
	return []byte("output of " + t.ContainerID + "\n"), nil
}

func (matrixLogs) DownloadURL(_ context.Context, t *gateway.Task, _ time.Duration) (string, error) {
	return "https://cos.invalid/" + t.LogObject, nil
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "authz.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w := &world{slurm: gatewaytest.NewScheduler(), db: db, tokens: map[string]string{}}
	w.svc = gateway.NewService(gateway.Config{
		Location: time.UTC,
		Flavors: []gateway.Flavor{{Name: "gpu-1", GPUs: 1, CPUs: 1, MemoryMB: 1000, Partition: "gpu",
			TimeLimit: time.Hour, PricePerHour: 2.5, Currency: "USD"}},
		HomeTemplate: "/hfs/home/{user}", WorkTemplate: "/hfs/work/{user}", LogDirTemplate: "{work}/.batchgate/logs",
	}, db, w.slurm, gatewaytest.Images{}, matrixLogs{}, gateway.NewBroker(100000), log)
	usage := gateway.NewUsage(gateway.UsageConfig{Cluster: "c", Prices: gateway.UsagePrices{Currency: "USD"}}, db, nil, log)
	w.opts = httpapi.Options{Logger: log, Service: w.svc, Auth: gateway.Authenticator{Tokens: db}, Audit: db, Usage: usage}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"vision", "speech"} {
		must(db.AddProject(ctx, gateway.Project{Name: p}))
	}
	past := time.Now().Add(-time.Hour)
	newToken := func(persona, user string, expires *time.Time) string {
		token, hash := gateway.NewToken()
		id, err := db.CreateToken(ctx, user, persona, hash, expires)
		must(err)
		w.tokens[persona] = token
		return id
	}
	for _, u := range []string{owner, peer, padmin, oadmin, sadmin, disabled} {
		must(db.AddUser(ctx, gateway.User{Name: u, SiteAdmin: u == sadmin}))
		newToken(u, u, nil)
	}
	newToken(expired, owner, &past)
	must(db.RevokeToken(ctx, newToken(revoked, owner, nil)))
	must(db.SetUserDisabled(ctx, disabled, true))
	for user, role := range map[string]gateway.Role{owner: gateway.RoleMember, peer: gateway.RoleMember,
		padmin: gateway.RoleAdmin, disabled: gateway.RoleMember} {
		must(db.AddMember(ctx, "vision", user, role))
	}
	must(db.AddMember(ctx, "speech", oadmin, gateway.RoleAdmin))

	w.bobs = w.createThroughAPI(t, peer, "vision", "bobs-box", "echo secret-of-bob", false)
	w.carols = w.createThroughAPI(t, oadmin, "speech", "carols-box", "echo secret-of-carol", true)
	return w
}

// server is a new server over the world: each case gets its own failed-authentication limiter,
// so the matrix's many 401s do not turn into 429s.
func (w *world) server() *httpapi.Server { return httpapi.New(w.opts) }

func (w *world) createThroughAPI(t *testing.T, user, project, name, command string, start bool) thing {
	t.Helper()
	srv := w.server()
	body := fmt.Sprintf(`{"project":%q,"name":%q,"image":"pytorch","flavor":"gpu-1","command":%q}`, project, name, command)
	status, raw := w.do(t, srv, user, "POST", "/api/v1/containers", body, "")
	var c gateway.Container
	if err := json.Unmarshal(raw, &c); status != 201 || err != nil {
		t.Fatalf("%s creates %s: %d %s", user, name, status, raw)
	}
	th := thing{id: c.ID, name: name, command: command}
	if start {
		status, raw := w.do(t, srv, user, "POST", "/api/v1/containers/"+c.ID+"/start", "", "")
		var task gateway.Task
		if err := json.Unmarshal(raw, &task); status != 202 || err != nil {
			t.Fatalf("%s starts %s: %d %s", user, name, status, raw)
		}
		th.task = task.ID
	}
	return th
}

// alices makes a fresh container of alice in vision for one case, started unless inactive.
func (w *world) alices(t *testing.T, inactive bool) thing {
	t.Helper()
	w.n++
	ctx := context.Background()
	alice := gateway.Principal{User: owner, Projects: map[string]gateway.Role{"vision": gateway.RoleMember}}
	th := thing{name: fmt.Sprintf("alices-box-%d", w.n), command: fmt.Sprintf("echo secret-of-alice-%d", w.n)}
	c, err := w.svc.CreateContainer(ctx, alice, gateway.ContainerSpec{Project: "vision", Name: th.name,
		Image: "pytorch", Flavor: "gpu-1", Command: th.command}, "")
	if err != nil {
		t.Fatal(err)
	}
	th.id = c.ID
	if !inactive {
		task, err := w.svc.StartContainer(ctx, alice, c.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		th.task = task.ID
	}
	return th
}

// seal stops a started container of alice and marks its task's log sealed.
func (w *world) seal(t *testing.T, th thing) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.svc.StopContainer(ctx, gateway.Principal{SiteAdmin: true, User: sadmin}, th.id); err != nil {
		t.Fatal(err)
	}
	task, err := w.db.Task(ctx, th.task)
	if err != nil {
		t.Fatal(err)
	}
	task.LogSealed = true
	if err := w.db.SaveTask(ctx, task, nil); err != nil {
		t.Fatal(err)
	}
}

// do sends one request as persona ("" or anon: no token) through app.Test.
func (w *world) do(t *testing.T, srv *httpapi.Server, persona, method, target, body, lastEventID string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok, ok := w.tokens[persona]; ok {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := srv.App().Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s as %s: %v", method, target, persona, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// expect is the status each persona gets on one route.
type expect map[string]int

// public routes answer everyone.
func public() expect {
	e := expect{}
	for _, p := range personas {
		e[p] = http.StatusOK
	}
	return e
}

// authed routes answer every valid token with ok, and 401 without one.
func authed(ok int) expect {
	return expect{anon: 401, owner: ok, peer: ok, padmin: ok, oadmin: ok, sadmin: ok, disabled: 401, expired: 401, revoked: 401}
}

// owned routes act on alice's container: her, her project's admin and site admins; 404 for others.
func owned(ok int) expect {
	return expect{anon: 401, owner: ok, peer: 404, padmin: ok, oadmin: 404, sadmin: ok, disabled: 401, expired: 401, revoked: 401}
}

// matrixRow is one route of the route table in the matrix.
type matrixRow struct {
	query    string // appended to the path
	body     string // {name} is replaced by the container's name
	inactive bool   // the container must be Inactive (else it is started first)
	sealed   bool   // the task has ended and its log is sealed
	stream   bool   // a server-sent event stream: ended by shutting the server down
	want     expect
}

const matrixSpec = `{"project":"vision","name":"{name}","image":"pytorch","flavor":"gpu-1","command":"echo updated"}`

var matrix = map[string]matrixRow{
	"GET /healthz":                        {want: public()},
	"GET /readyz":                         {want: public()},
	"GET /metrics":                        {want: public()},
	"GET /api/v1/openapi.json":            {want: public()},
	"GET /api/v1/flavors":                 {want: authed(200)},
	"GET /api/v1/images":                  {want: authed(200)},
	"GET /api/v1/estimate":                {query: "?flavor=gpu-1", want: authed(200)},
	"GET /api/v1/events":                  {stream: true, want: authed(200)},
	"GET /api/v1/containers":              {want: authed(200)},
	"GET /api/v1/containers/:id":          {want: owned(200)},
	"PUT /api/v1/containers/:id":          {body: matrixSpec, inactive: true, want: owned(200)},
	"DELETE /api/v1/containers/:id":       {inactive: true, want: owned(204)},
	"POST /api/v1/containers/:id/start":   {inactive: true, want: owned(202)},
	"POST /api/v1/containers/:id/stop":    {want: owned(200)},
	"POST /api/v1/containers/:id/refresh": {want: owned(200)},
	"GET /api/v1/containers/:id/script":   {inactive: true, want: owned(200)},
	"GET /api/v1/containers/:id/tasks":    {want: owned(200)},
	"GET /api/v1/tasks/:id":               {want: owned(200)},
	"GET /api/v1/tasks/:id/history":       {want: owned(200)},
	"GET /api/v1/tasks/:id/script":        {want: owned(200)},
	"GET /api/v1/tasks/:id/log":           {want: owned(200)},
	"GET /api/v1/tasks/:id/log/download":  {sealed: true, want: owned(200)},
	// Creating: members of vision make their own container; carol and root belong to no
	// vision and are told which projects they may use.
	"POST /api/v1/containers": {body: strings.Replace(matrixSpec, "{name}", "fresh-{n}", 1),
		want: expect{anon: 401, owner: 201, peer: 201, padmin: 201, oadmin: 422, sadmin: 422, disabled: 401, expired: 401, revoked: 401}},
	// The audit trail: admins only; members are refused outright (403: the route is no secret).
	"GET /api/v1/audit": {want: expect{anon: 401, owner: 403, peer: 403, padmin: 200, oadmin: 200, sadmin: 200,
		disabled: 401, expired: 401, revoked: 401}},
	// The cluster's facts and the caller's own roles and binds: anyone signed in.
	"GET /api/v1/cluster": {want: expect{anon: 401, owner: 200, peer: 200, padmin: 200, oadmin: 200, sadmin: 200,
		disabled: 401, expired: 401, revoked: 401}},
	// Usage: everyone signed in gets figures, scoped to what their role lets them see.
	"GET /api/v1/usage": {want: expect{anon: 401, owner: 200, peer: 200, padmin: 200, oadmin: 200, sadmin: 200,
		disabled: 401, expired: 401, revoked: 401}},
}

// visible says which containers each persona may see: the rest must not show up in any body.
func (w *world) invisible(persona string, alices thing) []thing {
	switch persona {
	case owner:
		return []thing{w.bobs, w.carols}
	case peer:
		return []thing{alices, w.carols}
	case padmin:
		return []thing{w.carols}
	case oadmin:
		return []thing{alices, w.bobs}
	case sadmin:
		return nil
	}
	return []thing{alices, w.bobs, w.carols}
}

// TestAuthorizationMatrix sends every route of the route table as every persona and checks the
// status, and that no body carries a container (id, name, command, task id) the persona may not
// see. A route without a row fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	w := newWorld(t)
	seen := map[string]bool{}
	for _, r := range w.server().App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		key := r.Method + " " + r.Path
		if seen[key] {
			continue
		}
		seen[key] = true
		row, ok := matrix[key]
		if !ok {
			t.Errorf("route %s has no row in the authorization matrix", key)
			continue
		}
		for _, persona := range personas {
			w.check(t, key, row, persona)
		}
	}
	for key := range matrix {
		if !seen[key] {
			t.Errorf("matrix row %s is not a route", key)
		}
	}
}

func (w *world) check(t *testing.T, key string, row matrixRow, persona string) {
	t.Helper()
	method, path, _ := strings.Cut(key, " ")
	alices := w.alices(t, row.inactive)
	if row.sealed {
		w.seal(t, alices)
	}
	target := path
	switch {
	case strings.Contains(path, "/containers/:id"):
		target = strings.Replace(path, ":id", alices.id, 1)
	case strings.Contains(path, "/tasks/:id"):
		target = strings.Replace(path, ":id", alices.task, 1)
	}
	target += row.query
	body := strings.NewReplacer("{name}", alices.name, "{n}", fmt.Sprint(w.n)).Replace(row.body)
	srv := w.server()
	lastEventID := ""
	if row.stream {
		lastEventID = "1" // replay everything the persona may see
		stop := time.AfterFunc(300*time.Millisecond, func() { _ = srv.Shutdown(context.Background()) })
		defer stop.Stop()
	}
	status, raw := w.do(t, srv, persona, method, target, body, lastEventID)
	if want := row.want[persona]; status != want {
		t.Errorf("%s as %s: %d, want %d: %s", key, persona, status, want, raw)
	}
	for _, other := range w.invisible(persona, alices) {
		for _, m := range other.markers() {
			if m != "" && !strings.Contains(target, m) && strings.Contains(string(raw), m) {
				t.Errorf("%s as %s: the body carries %q of a container not theirs: %s", key, persona, m, raw)
			}
		}
	}
}
