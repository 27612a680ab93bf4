package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/gatewaytest"
	"batchgate/gateway/httpapi"
)

// usageSource is a fake sacct: it returns its jobs whatever the window.
type usageSource []gateway.JobStatus

func (s usageSource) UsageRecords(context.Context, time.Time, time.Time, []string) ([]gateway.JobStatus, error) {
	return s, nil
}

// newUsageAPI is newAPI with a usage ledger holding jobs of alice and mallory (vision) and carol
// (speech); carol administers speech, root is a site admin.
func newUsageAPI(t *testing.T) *api {
	t.Helper()
	a := newAPI(t, time.UTC)
	ctx := context.Background()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.db.AddProject(ctx, gateway.Project{Name: "speech", CreatedAt: time.Now()}))
	must(a.db.AddMember(ctx, "vision", "mallory", gateway.RoleMember))
	for _, u := range []gateway.User{{Name: "carol"}, {Name: "root", SiteAdmin: true}} {
		u.CreatedAt = time.Now()
		must(a.db.AddUser(ctx, u))
		token, hash := gateway.NewToken()
		_, err := a.db.CreateToken(ctx, u.Name, "t", hash, nil)
		must(err)
		a.tokens[u.Name] = token
	}
	must(a.db.AddMember(ctx, "speech", "carol", gateway.RoleAdmin))
	day := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	mk := func(id, user, account string, h, sec int64, gpus int) gateway.JobStatus {
		start := day.Add(time.Duration(h) * time.Hour)
		return gateway.JobStatus{JobID: id, User: user, Account: account, State: gateway.TaskCompleted, SubmitAt: start,
			StartAt: start, EndAt: start.Add(time.Duration(sec) * time.Second), ElapsedSec: sec, GPUs: gpus, CPUs: 1}
	}
	src := usageSource{mk("1", "alice", "vision", 1, 3600, 1), mk("2", "mallory", "vision", 2, 3600, 2), mk("3", "carol", "speech", 3, 3600, 4)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	u := gateway.NewUsage(gateway.UsageConfig{Cluster: "c", Prices: gateway.UsagePrices{PerGPUHour: 1, Currency: "USD"}}, a.db, src, log)
	if _, _, err := u.IngestRange(ctx, day, day.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	svc := gateway.NewService(gateway.Config{}, a.db, a.slurm, gatewaytest.Images{}, gatewaytest.Logs{}, gateway.NewBroker(10), log)
	a.srv = httpapi.New(httpapi.Options{Logger: log, Service: svc, Usage: u, Auth: gateway.Authenticator{Tokens: a.db}})
	return a
}

func TestUsageAPIScopesByRole(t *testing.T) {
	a := newUsageAPI(t)
	cases := []struct {
		user, query string
		status      int
		gpuSeconds  int64
		keys        string
	}{
		{"alice", "", 200, 3600, "vision"},
		{"mallory", "", 200, 7200, "vision"},
		{"carol", "", 200, 14400, "speech"},
		{"root", "", 200, 3600 + 7200 + 14400, "speech,vision"},
		{"carol", "&project=speech&user=carol", 200, 14400, "speech"},
		{"alice", "&user=mallory", 200, 0, ""},
		{"alice", "&project=speech", 404, 0, ""},
		{"carol", "&project=vision", 404, 0, ""},
	}
	for _, c := range cases {
		path := "/api/v1/usage?from=2026-01-10&to=2026-01-10&group_by=project" + c.query
		status, _, body := a.do(t, c.user, "GET", path, "")
		if status != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.user, c.query, status, body, c.status)
			continue
		}
		if status != 200 {
			continue
		}
		var rep gateway.UsageReport
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, b := range rep.Series {
			keys = append(keys, b.Key)
		}
		if rep.Totals.GPUSeconds != c.gpuSeconds || strings.Join(keys, ",") != c.keys || rep.Currency != "USD" {
			t.Errorf("%s %s: %+v, want %d GPU-seconds in %q", c.user, c.query, rep, c.gpuSeconds, c.keys)
		}
	}
	if status, _, _ := a.do(t, "", "GET", "/api/v1/usage", ""); status != 401 {
		t.Errorf("no token: %d, want 401", status)
	}
}

func TestUsageAPICSVAndProblems(t *testing.T) {
	a := newUsageAPI(t)
	status, h, body := a.do(t, "root", "GET", "/api/v1/usage?from=2026-01-10&to=2026-01-11&group_by=user", "", "Accept", "text/csv")
	want := "user,jobs,gpus,gpu_seconds,cpu_seconds,gpu_hours,cpu_hours,cost,currency\n" +
		"alice,1,1,3600,3600,1.0000,1.0000,1.00,USD\n" +
		"carol,1,4,14400,3600,4.0000,1.0000,4.00,USD\n" +
		"mallory,1,2,7200,3600,2.0000,1.0000,2.00,USD\n" +
		"total,3,7,25200,10800,7.0000,3.0000,7.00,USD\n"
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || string(body) != want {
		t.Errorf("csv: %d %s\n%s", status, h.Get("Content-Type"), body)
	}
	status, h, body = a.do(t, "root", "GET", "/api/v1/usage?from=nope&to=2026-01-01T00:00:00&group_by=hour", "")
	var p problem
	_ = json.Unmarshal(body, &p)
	var fields []string
	for _, e := range p.Errors {
		fields = append(fields, e.Field)
	}
	if status != 422 || h.Get("Content-Type") != "application/problem+json" || strings.Join(fields, ",") != "from,to,group_by" {
		t.Errorf("problems: %d %s %s", status, h.Get("Content-Type"), body)
	}
}
