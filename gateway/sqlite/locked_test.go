package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"batchgate/gateway"
)

// TestMain lets the test binary play "another process" that locks the database (the standard
// library's helper-process pattern).
func TestMain(m *testing.M) {
	if path := os.Getenv("BATCHGATE_TEST_LOCK_DB"); path != "" {
		holdExclusiveLock(path)
		return
	}
	os.Exit(m.Run())
}

// holdExclusiveLock takes an exclusive lock on the database, says so, and holds it until stdin closes.
func holdExclusiveLock(path string) {
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		os.Exit(3)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		os.Exit(3)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		os.Exit(4)
	}
	os.Stdout.WriteString("locked\n")
	bufio.NewReader(os.Stdin).ReadString('\n')
	conn.ExecContext(context.Background(), "ROLLBACK")
}

// TestLockedByAnotherProcessIsUnavailableThenRecovers: while another process holds the file,
// a write fails after the busy timeout with CodeUnavailable (a 503 for clients); once it lets go,
// writes succeed again.
func TestLockedByAnotherProcessIsUnavailableThenRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the busy timeout")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "locked.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), "BATCHGATE_TEST_LOCK_DB="+path)
	stdin, _ := holder.StdinPipe()
	stdout, _ := holder.StdoutPipe()
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Wait()
	defer stdin.Close()
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "locked\n" {
		t.Fatalf("the other process did not lock the database: %q", line)
	}
	start := time.Now()
	err = db.AddProject(ctx, gateway.Project{Name: "blocked", CreatedAt: time.Now()})
	if gateway.ErrorCode(err) != gateway.CodeUnavailable {
		t.Fatalf("write while locked: %v (code %s), want unavailable", err, gateway.ErrorCode(err))
	}
	if waited := time.Since(start); waited < busyTimeout/2 {
		t.Errorf("gave up after %s; the busy timeout is %s", waited, busyTimeout)
	}
	stdin.Close()
	holder.Wait()
	if err := db.AddProject(ctx, gateway.Project{Name: "after", CreatedAt: time.Now()}); err != nil {
		t.Fatalf("write after the lock was released: %v", err)
	}
}
