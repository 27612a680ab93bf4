package apptainer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests run Command's argv through a binary: the CI stand-in
// (integration/testdata/bin/apptainer) always, the real apptainer when it is
// on PATH. The same scenarios prove the stand-in and Command agree, and that
// the real binary behaves as apptainer.md says.

func standIn(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "integration", "testdata", "bin", "apptainer"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("stand-in missing: %v", err)
	}
	return p
}

func TestStandInAgreesWithCommand(t *testing.T) {
	runScenarios(t, standIn(t))
}

func TestRealApptainer(t *testing.T) {
	bin, err := exec.LookPath("apptainer")
	if err != nil {
		t.Skip("apptainer is not on PATH: the real-binary test runs only where Apptainer is installed")
	}
	// The stand-in refuses --version; the real binary answers it.
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil {
		t.Skipf("%s is not the real apptainer (--version: %v, %s)", bin, err, bytes.TrimSpace(out))
	}
	runScenarios(t, bin)
}

type runResult struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, ctx context.Context, spec ExecSpec, hostEnv []string) runResult {
	t.Helper()
	argv, err := Command(spec)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = hostEnv
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %q: %v", argv, err)
	}
	return runResult{out.String(), errb.String(), cmd.ProcessState.ExitCode()}
}

func runScenarios(t *testing.T, bin string) {
	img := place(t, "tiny.sif", t.TempDir(), "tiny.sif")
	share := t.TempDir()
	hostEnv := append(os.Environ(), "LEAKY=from-host")
	spec := func(command string) ExecSpec {
		return ExecSpec{Binary: bin, Image: img, Command: command,
			Binds: []Bind{{Src: share, Dst: share}}, WorkDir: share}
	}
	ctx := context.Background()

	t.Run("exit code passes through", func(t *testing.T) {
		if r := run(t, ctx, spec("exit 7"), hostEnv); r.code != 7 {
			t.Errorf("exit code %d, want 7 (stderr %q)", r.code, r.stderr)
		}
	})
	t.Run("environment exact and clean", func(t *testing.T) {
		s := spec(`printf '%s|%s|%s' "$A" "$B" "${LEAKY-unset}"`)
		tricky := `x,y=z "q" $(id) 'n' \t` + "\nline2"
		s.Env = []EnvVar{{"A", tricky}, {"B", ""}}
		r := run(t, ctx, s, hostEnv)
		if want := tricky + "||unset"; r.stdout != want || r.code != 0 {
			t.Errorf("stdout %q code %d, want %q (stderr %q)", r.stdout, r.code, want, r.stderr)
		}
	})
	t.Run("bind and working directory", func(t *testing.T) {
		r := run(t, ctx, spec(`pwd; echo written > out.txt`), hostEnv)
		if strings.TrimSpace(r.stdout) != share || r.code != 0 {
			t.Errorf("pwd %q code %d (stderr %q), want %s", r.stdout, r.code, r.stderr, share)
		}
		if b, err := os.ReadFile(filepath.Join(share, "out.txt")); err != nil || string(b) != "written\n" {
			t.Errorf("file written through the bind: %q, %v", b, err)
		}
	})
	t.Run("invalid image refused", func(t *testing.T) {
		s := spec("true")
		s.Image = writeTemp(t, "plain.sif", "just text\n")
		if r := run(t, ctx, s, hostEnv); r.code != 255 || !strings.Contains(r.stderr, "FATAL") {
			t.Errorf("non-image: code %d stderr %q, want 255 and FATAL", r.code, r.stderr)
		}
	})
	t.Run("pid leaves no orphan when the command ends", func(t *testing.T) {
		r := run(t, ctx, spec(`sleep 100 & echo $! > bg-end.pid; exit 3`), hostEnv)
		if r.code != 3 {
			t.Errorf("exit code %d, want 3 (stderr %q)", r.code, r.stderr)
		}
		if bg := waitPID(t, filepath.Join(share, "bg-end.pid")); bin == standIn(t) && alive(bg) {
			t.Errorf("background process %d outlived the command", bg)
		}
		if bin != standIn(t) && sleepers(t) > 0 {
			t.Errorf("a 'sleep 100' outlived the command")
		}
	})
	t.Run("pid leaves no orphan after cancel", func(t *testing.T) {
		pidFile := filepath.Join(share, "bg.pid")
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan runResult, 1)
		go func() { done <- run(t, ctx, spec(`sleep 100 & echo $! > bg.pid; sleep 100`), hostEnv) }()
		bg := waitPID(t, pidFile)
		cancel()
		r := <-done
		if r.code == 0 {
			t.Errorf("cancelled run exited 0")
		}
		// The background sleep ran in the container's PID namespace on the
		// real binary (its pid there is not a host pid), so only the
		// stand-in's pid can be checked on the host.
		if bin == standIn(t) && alive(bg) {
			t.Errorf("background process %d survived the cancel", bg)
		}
		if bin != standIn(t) && sleepers(t) > 0 {
			t.Errorf("a 'sleep 100' survived the cancel")
		}
	})
}

func writeTemp(t *testing.T, name, content string) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func waitPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				return pid
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// alive reports whether pid exists and is not a zombie, waiting briefly for
// the kill to land.
func alive(pid int) bool {
	for range 50 {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == "Z" {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// sleepers counts live "sleep 100" processes of this user.
func sleepers(t *testing.T) int {
	time.Sleep(500 * time.Millisecond)
	out, _ := exec.Command("pgrep", "-u", strconv.Itoa(os.Getuid()), "-f", "^sleep 100$").Output()
	return len(strings.Fields(string(out)))
}
