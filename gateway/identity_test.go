package gateway_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/gatewaytest"
	"batchgate/gateway/sqlite"
)

// recordingScheduler is the fake Slurm, also noting who each job was submitted and cancelled as,
// and the account its script charges.
type recordingScheduler struct {
	*gatewaytest.Scheduler
	mu      sync.Mutex
	submits []string // "user account"
	cancels []string // users
}

func (r *recordingScheduler) Submit(ctx context.Context, user string, script []byte) (string, error) {
	account := ""
	for line := range strings.Lines(string(script)) {
		if a, ok := strings.CutPrefix(strings.TrimSpace(line), "#SBATCH --account="); ok {
			account = a
		}
	}
	r.mu.Lock()
	r.submits = append(r.submits, user+" "+account)
	r.mu.Unlock()
	return r.Scheduler.Submit(ctx, user, script)
}

// BeginSubmit records the submission when it happens, as Submit does.
func (r *recordingScheduler) BeginSubmit(ctx context.Context, user string) (gateway.Submission, error) {
	return recordedSubmission{r: r, ctx: ctx, user: user}, nil
}

type recordedSubmission struct {
	r    *recordingScheduler
	ctx  context.Context
	user string
}

func (s recordedSubmission) Submit(script []byte) (string, error) {
	return s.r.Submit(s.ctx, s.user, script)
}
func (s recordedSubmission) Abort() {}

func (r *recordingScheduler) Cancel(ctx context.Context, user, jobID string) error {
	r.mu.Lock()
	r.cancels = append(r.cancels, user)
	r.mu.Unlock()
	return r.Scheduler.Cancel(ctx, user, jobID)
}

var (
	vic  = gateway.Principal{User: "vic", Projects: map[string]gateway.Role{"vision": gateway.RoleAdmin}}
	root = gateway.Principal{User: "root", SiteAdmin: true, Projects: map[string]gateway.Role{}}
)

func newRecordingService(t *testing.T) (*gateway.Service, *recordingScheduler) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "batchgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rec := &recordingScheduler{Scheduler: gatewaytest.NewScheduler()}
	svc := gateway.NewService(gateway.Config{
		Location: time.UTC,
		Flavors: []gateway.Flavor{{Name: "gpu-2", GPUs: 2, CPUs: 2, MemoryMB: 4000, Partition: "gpu",
			TimeLimit: 2 * time.Hour, PricePerHour: 5, Currency: "USD"}},
		HomeTemplate: "/hfs/home/{user}", WorkTemplate: "/hfs/work/{user}", LogDirTemplate: "{work}/.batchgate/logs",
	}, db, rec, gatewaytest.Images{}, gatewaytest.Logs{}, gateway.NewBroker(100), slog.New(slog.NewTextHandler(io.Discard, nil)))
	return svc, rec
}

// TestJobsRunAsTheOwnerChargedToTheProject: whoever starts or stops alice's container (alice, her
// project's admin, a site admin), the job is submitted and cancelled as alice and charged to the
// container's project, never to the caller or the caller's project.
func TestJobsRunAsTheOwnerChargedToTheProject(t *testing.T) {
	ctx := context.Background()
	svc, rec := newRecordingService(t)
	// alice is in two projects, so "the project" is the container's, not one of hers.
	alice2 := gateway.Principal{User: "alice", Projects: map[string]gateway.Role{"vision": gateway.RoleMember, "speech": gateway.RoleMember}}
	for _, starter := range []gateway.Principal{alice2, vic, root} {
		c, err := svc.CreateContainer(ctx, alice2, gateway.ContainerSpec{Project: "vision", Name: "by-" + starter.User,
			Image: "pytorch", Flavor: "gpu-2", Command: "true"}, "")
		if err != nil {
			t.Fatal(err)
		}
		task, err := svc.StartContainer(ctx, starter, c.ID, "")
		if err != nil {
			t.Fatalf("%s starts alice's container: %v", starter.User, err)
		}
		if task.Owner != "alice" || task.Project != "vision" || task.JobID == "" {
			t.Errorf("%s's start: task %+v, want owner alice, project vision, a job", starter.User, task)
		}
		if _, err := svc.StopContainer(ctx, starter, c.ID); err != nil {
			t.Fatalf("%s stops: %v", starter.User, err)
		}
	}
	want := "alice vision\nalice vision\nalice vision"
	if got := strings.Join(rec.submits, "\n"); got != want {
		t.Errorf("submissions (user account):\n%s\nwant:\n%s", got, want)
	}
	if got := strings.Join(rec.cancels, " "); got != "alice alice alice" {
		t.Errorf("cancels as %q, want alice each time", got)
	}
	// Another project's admin and another member cannot start it at all.
	c, err := svc.CreateContainer(ctx, alice2, gateway.ContainerSpec{Project: "vision", Name: "not-yours",
		Image: "pytorch", Flavor: "gpu-2", Command: "true"}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []gateway.Principal{carol, bob} {
		if _, err := svc.StartContainer(ctx, p, c.ID, ""); gateway.ErrorCode(err) != gateway.CodeNotFound {
			t.Errorf("%s starts alice's container: %v, want not found", p.User, err)
		}
	}
	if len(rec.submits) != 3 {
		t.Errorf("%d submissions, want 3", len(rec.submits))
	}
}

// TestStartKeysAreTheCallers: an Idempotency-Key belongs to who sent it. vic's key equal to one
// alice used in another project starts vic's request afresh instead of showing alice's task.
func TestStartKeysAreTheCallers(t *testing.T) {
	ctx := context.Background()
	svc, rec := newRecordingService(t)
	alice2 := gateway.Principal{User: "alice", Projects: map[string]gateway.Role{"vision": gateway.RoleMember, "speech": gateway.RoleMember}}
	spec := func(project, name string) gateway.ContainerSpec {
		return gateway.ContainerSpec{Project: project, Name: name, Image: "pytorch", Flavor: "gpu-2", Command: "true"}
	}
	secret, err := svc.CreateContainer(ctx, alice2, spec("speech", "secret"), "")
	if err != nil {
		t.Fatal(err)
	}
	x, err := svc.CreateContainer(ctx, alice2, spec("vision", "x"), "")
	if err != nil {
		t.Fatal(err)
	}
	aliceTask, err := svc.StartContainer(ctx, alice2, secret.ID, "k")
	if err != nil {
		t.Fatal(err)
	}
	vicTask, err := svc.StartContainer(ctx, vic, x.ID, "k")
	if err != nil || vicTask.ID == aliceTask.ID || vicTask.ContainerID != x.ID {
		t.Fatalf("vic starts x with alice's key: %+v %v; want a new task of x", vicTask, err)
	}
	again, err := svc.StartContainer(ctx, vic, x.ID, "k")
	if err != nil || again.ID != vicTask.ID {
		t.Fatalf("vic replays his start: %+v %v, want task %s", again, err, vicTask.ID)
	}
	// The same caller reusing a key for another container is told so.
	y, err := svc.CreateContainer(ctx, alice2, spec("vision", "y"), "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.StartContainer(ctx, vic, y.ID, "k")
	var e *gateway.Error
	if !errors.As(err, &e) || e.Code != gateway.CodeConflict {
		t.Fatalf("vic reuses his key for y: %v, want conflict", err)
	}
	if len(rec.submits) != 2 {
		t.Errorf("%d submissions, want 2", len(rec.submits))
	}
}
