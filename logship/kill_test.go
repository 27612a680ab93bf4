package logship

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// fileCheckpoints keeps each checkpoint in a JSON file, replaced atomically,
// so it survives a SIGKILL like the gateway's SQLite does.
type fileCheckpoints struct{ dir string }

func (c fileCheckpoints) Load(_ context.Context, key string) (Checkpoint, error) {
	b, err := os.ReadFile(filepath.Join(c.dir, key+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, fmt.Errorf("load %s: %w", key, ErrNoCheckpoint)
	}
	if err != nil {
		return Checkpoint{}, err
	}
	var cp Checkpoint
	return cp, json.Unmarshal(b, &cp)
}

func (c fileCheckpoints) Save(_ context.Context, key string, cp Checkpoint) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(c.dir, key+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(c.dir, key+".json"))
}

// TestHelperShipperProcess is not a test: TestSIGKILLMidRun runs the test
// binary with LOGSHIP_HELPER=1 to get a shipper process it can SIGKILL.
func TestHelperShipperProcess(t *testing.T) {
	if os.Getenv("LOGSHIP_HELPER") != "1" {
		t.Skip("helper process for TestSIGKILLMidRun")
	}
	src := Source{Key: os.Getenv("LOGSHIP_KEY"), Path: os.Getenv("LOGSHIP_PATH"), Prefix: os.Getenv("LOGSHIP_PREFIX")}
	opts := testOptions(t)
	opts.MaxChunk = 2 << 10 // many chunks: many put/checkpoint windows to die in
	sh := NewShipper(testStore(t), fileCheckpoints{os.Getenv("LOGSHIP_CPS")}, opts)
	t.Fatal(sh.Follow(context.Background(), src)) // runs until killed
}

// TestSIGKILLMidRun kills a shipper process with SIGKILL twice while a job
// writes, then seals from a fresh shipper: the log must equal the file.
func TestSIGKILLMidRun(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "sigkill")
	cps := fileCheckpoints{t.TempDir()}
	app := newAppender(t, src.Path)
	written := make(chan struct{})
	go func() { app.run(t, 600, 6*time.Second, true); close(written) }()

	for _, life := range []time.Duration{2 * time.Second, 1500 * time.Millisecond, 1700 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperShipperProcess$")
		cmd.Env = append(os.Environ(), "LOGSHIP_HELPER=1", "LOGSHIP_KEY="+src.Key,
			"LOGSHIP_PATH="+src.Path, "LOGSHIP_PREFIX="+src.Prefix, "LOGSHIP_CPS="+cps.dir)
		cmd.WaitDelay = time.Second
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(life)
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Error(err)
		}
		cmd.Wait()
		cancel()
	}
	<-written
	cp, err := cps.Load(context.Background(), src.Key)
	if err != nil || cp.Offset == 0 {
		t.Fatalf("the killed shippers shipped nothing: %+v %v", cp, err)
	}
	m, err := NewShipper(s, cps, testOptions(t)).Seal(context.Background(), src, SealInfo{State: "COMPLETED"})
	if err != nil {
		t.Fatal(err)
	}
	checkSealed(t, s, src, m, app.bytes())
	t.Logf("killed shippers had shipped %d of %d bytes in %d chunks", cp.Offset, m.Size, cp.NextChunk-1)
}
