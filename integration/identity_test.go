package integration

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
)

// TestIdentityOnTheDevCluster: alice's container runs as alice and is charged to vision (sacct);
// bob (a member of vision) and carol (speech) get 404 for it; bob made an admin of vision can stop
// it; a disabled user and a revoked token get 401; and the audit trail holds each attempt.
func TestIdentityOnTheDevCluster(t *testing.T) {
	g := startDevGateway(t, nil)
	ctx := context.Background()
	db := g.d.Store()

	var c apiContainer
	if st := g.call(t, "alice", "POST", "/api/v1/containers", map[string]any{
		"project": "vision", "name": "whoami", "image": "busybox", "flavor": "gpu-1",
		"command": "id -un; sleep 120",
	}, &c); st != http.StatusCreated {
		t.Fatalf("alice creates: %d", st)
	}
	var task apiTask
	if st := g.call(t, "alice", "POST", "/api/v1/containers/"+c.ID+"/start", nil, &task); st != http.StatusAccepted || task.JobID == "" {
		t.Fatalf("alice starts: %d %+v", st, task)
	}
	task = g.waitTask(t, "alice", task.ID, 60*time.Second, "the task to run", func(x apiTask) bool { return x.State == "RUNNING" })

	// Slurm's own records: the job belongs to alice and is charged to vision.
	var acct string
	eventually(t, 30*time.Second, "sacct to know the job", func() bool {
		acct = run(t, 30*time.Second, "sacct", "-X", "-n", "-P", "-j", task.JobID, "--format=User,Account")
		return acct != ""
	})
	if acct != "alice|vision" {
		t.Fatalf("sacct User|Account of job %s = %q, want alice|vision", task.JobID, acct)
	}
	eventually(t, 30*time.Second, "the job to write who it runs as", func() bool {
		log, _ := os.ReadFile(task.LogPath)
		return strings.HasPrefix(string(log), "alice\n")
	})

	// Others of the same project and of another project see nothing and stop nothing.
	for _, user := range []string{"bob", "carol"} {
		if st := g.call(t, user, "GET", "/api/v1/containers/"+c.ID, nil, nil); st != http.StatusNotFound {
			t.Errorf("%s reads alice's container: %d, want 404", user, st)
		}
		if st := g.call(t, user, "POST", "/api/v1/containers/"+c.ID+"/stop", nil, nil); st != http.StatusNotFound {
			t.Errorf("%s stops alice's container: %d, want 404", user, st)
		}
	}
	if got := g.container(t, "alice", c.ID); got.State != "Running" {
		t.Fatalf("after refused stops the container is %s, want Running", got.State)
	}

	// bob made an admin of vision may stop it: the job is cancelled (as alice, its owner).
	if err := db.AddMember(ctx, "vision", "bob", gateway.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	var stopped apiTask
	if st := g.call(t, "bob", "POST", "/api/v1/containers/"+c.ID+"/stop", nil, &stopped); st != http.StatusOK || stopped.State != "CANCELLED" {
		t.Fatalf("bob (admin of vision) stops: %d %+v", st, stopped)
	}
	eventually(t, 60*time.Second, "sacct to record the cancellation", func() bool {
		return strings.HasPrefix(run(t, 30*time.Second, "sacct", "-X", "-n", "-P", "-j", task.JobID, "--format=State"), "CANCELLED")
	})

	// A disabled user and a revoked token are refused with 401.
	if err := db.SetUserDisabled(ctx, "carol", true); err != nil {
		t.Fatal(err)
	}
	token, hash := gateway.NewToken()
	id, err := db.CreateToken(ctx, "alice", "revoked", hash, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeToken(ctx, id); err != nil {
		t.Fatal(err)
	}
	g.tokens["alice-revoked"] = token
	for _, who := range []string{"carol", "alice-revoked"} {
		if st := g.call(t, who, "GET", "/api/v1/containers", nil, nil); st != http.StatusUnauthorized {
			t.Errorf("%s lists containers: %d, want 401", who, st)
		}
	}

	// The audit trail, as the site admin: every attempt on the container, with its result.
	var audit struct {
		Items []gateway.AuditEntry `json:"items"`
	}
	if st := g.call(t, "root", "GET", "/api/v1/audit?resource="+c.ID, nil, &audit); st != http.StatusOK {
		t.Fatalf("root reads the audit: %d", st)
	}
	var got []string
	for _, e := range audit.Items {
		got = append(got, e.Actor+" "+e.Action+" "+e.Result)
	}
	want := "bob container.stop ok\ncarol container.stop not_found\nbob container.stop not_found\n" +
		"alice container.start ok\nalice container.create ok"
	if strings.Join(got, "\n") != want {
		t.Errorf("audit of %s:\n%s\nwant:\n%s", c.ID, strings.Join(got, "\n"), want)
	}
}
