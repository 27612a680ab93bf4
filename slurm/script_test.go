package slurm

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func fullSpec() JobSpec {
	return JobSpec{
		Name: "it's a|job", Account: "vision", Partition: "gpu", GPUs: 2, GPUType: "a100",
		CPUsPerTask: 4, MemoryMB: 8000, TimeLimit: 90*time.Minute + time.Second,
		Begin:   time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC),
		WorkDir: "/hfs/work/alice", Output: "/hfs/work/alice/.batchgate/%j.log", Comment: "task-01HZX",
		Env: []EnvVar{{"MODEL", "llama 3"}, {"QUOTE", `it's "fine" $HOME`}},
		Command: []string{"apptainer", "exec", "--nv", "docker://repo/img:tag#sha", "python", "-c",
			"import os; print(os.environ['MODEL'])"},
	}
}

func TestRenderGolden(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip(err)
	}
	cases := map[string]JobSpec{
		"full":    fullSpec(),
		"minimal": {Command: []string{"true"}},
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Render(spec, ny)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "render_"+name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("script differs from %s (go test -update to accept):\n%s", golden, got)
			}
			checkShell(t, got)
		})
	}
}

// checkShell runs bash -n and, when installed, shellcheck on a script.
func checkShell(t *testing.T, script []byte) {
	t.Helper()
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = bytes.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Log("shellcheck not installed; skipped")
		return
	}
	cmd = exec.Command("shellcheck", "-s", "bash", "-")
	cmd.Stdin = bytes.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("shellcheck: %v\n%s", err, out)
	}
}

func TestRenderDirectives(t *testing.T) {
	got, err := Render(fullSpec(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"#SBATCH --job-name='it'\\''s a|job'\n",
		"#SBATCH --gres=gpu:a100:2\n",
		"#SBATCH --time=0-01:31:00\n", // rounded up to the minute
		"#SBATCH --begin=2026-11-01T06:00:00\n",
		"#SBATCH --mem=8000M\n",
		"#SBATCH --export=NONE\n",
		"exec apptainer exec --nv 'docker://repo/img:tag#sha' python",
	} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("script lacks %q", want)
		}
	}
	// Every directive must come before the first command, or sbatch ignores it.
	lines := strings.Split(string(got), "\n")
	firstCmd := slices.IndexFunc(lines, func(l string) bool { return l != "" && !strings.HasPrefix(l, "#") })
	for i, l := range lines {
		if strings.HasPrefix(l, "#SBATCH") && i > firstCmd {
			t.Errorf("directive after the first command: %q", l)
		}
	}
}

func TestRenderRefusesUnsafeValues(t *testing.T) {
	tests := []struct {
		field string
		mod   func(*JobSpec)
	}{
		{"Name", func(s *JobSpec) { s.Name = "a\nb" }},
		{"Name", func(s *JobSpec) { s.Name = "job #1" }},
		{"Comment", func(s *JobSpec) { s.Comment = "x#y" }},
		{"Output", func(s *JobSpec) { s.Output = `C:\out` }},
		{"WorkDir", func(s *JobSpec) { s.WorkDir = "relative/dir" }},
		{"Account", func(s *JobSpec) { s.Account = "vision --qos=high" }},
		{"Partition", func(s *JobSpec) { s.Partition = "gpu,cpu" }},
		{"GPUType", func(s *JobSpec) { s.GPUType = "a100:8" }},
		{"GPUType", func(s *JobSpec) { s.GPUs = 0 }},
		{"GPUs", func(s *JobSpec) { s.GPUs = -1; s.GPUType = "" }},
		{"CPUsPerTask", func(s *JobSpec) { s.CPUsPerTask = -2 }},
		{"MemoryMB", func(s *JobSpec) { s.MemoryMB = -1 }},
		{"TimeLimit", func(s *JobSpec) { s.TimeLimit = -time.Second }},
		{"Env[1X]", func(s *JobSpec) { s.Env = []EnvVar{{"1X", "v"}} }},
		{"Env[A]", func(s *JobSpec) { s.Env = []EnvVar{{"A", "line\nbreak"}} }},
		{"Command", func(s *JobSpec) { s.Command = nil }},
		{"Command[1]", func(s *JobSpec) { s.Command = []string{"echo", ""} }},
		{"Command[0]", func(s *JobSpec) { s.Command = []string{"echo\x00"} }},
		{"Command[1]", func(s *JobSpec) { s.Command = []string{"echo", "\xff"} }},
		{"Command[1]", func(s *JobSpec) { s.Command = []string{"echo", "a\u2028b"} }},
	}
	for _, tt := range tests {
		spec := fullSpec()
		tt.mod(&spec)
		out, err := Render(spec, nil)
		var re *RenderError
		if out != nil || !errors.As(err, &re) || re.Field != tt.field {
			t.Errorf("%s: Render = %d bytes, %v; want *RenderError on %s", tt.field, len(out), err, tt.field)
		}
	}
	// All problems are reported at once.
	_, err := Render(JobSpec{Name: "#", Account: "a b"}, nil)
	for _, f := range []string{"Name", "Account", "Command"} {
		if err == nil || !strings.Contains(err.Error(), f+":") {
			t.Errorf("joined error lacks %s: %v", f, err)
		}
	}
}

// runScript runs a rendered script with bash (not sbatch) in a clean
// environment and returns its stdout.
func runScript(t testing.TB, script []byte) []byte {
	t.Helper()
	cmd := exec.Command("bash", "-s")
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Stdin = bytes.NewReader(script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bash: %v\n%s\n%s", err, errb.Bytes(), script)
	}
	return out.Bytes()
}

// printfArgv is a body that prints each following argument NUL-terminated,
// so the test reads back exactly the argv the script ran.
var printfArgv = []string{"printf", `%s\0`}

func TestRenderedBodyRunsExactArgvAndEnv(t *testing.T) {
	spec := fullSpec()
	spec.Command = append(slices.Clone(printfArgv), spec.Command...)
	spec.Command = append(spec.Command, "$(id)", "`id`", "*", "~", "a=b", "'", `\`, "!", "--", "ü 漢")
	script, err := Render(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(runScript(t, script)), "\x00"), "\x00")
	if want := spec.Command[2:]; !slices.Equal(got, want) {
		t.Errorf("argv = %q, want %q", got, want)
	}
	spec.Command = []string{"printenv", "MODEL", "QUOTE"}
	script, _ = Render(spec, nil)
	if got, want := string(runScript(t, script)), "llama 3\nit's \"fine\" $HOME\n"; got != want {
		t.Errorf("env = %q, want %q", got, want)
	}
}

// TestRenderForwardsRunTimeVariables: a Forward sets a variable from another of the job's own
// environment when the job starts; names that are not plain identifiers are refused.
func TestRenderForwardsRunTimeVariables(t *testing.T) {
	spec := fullSpec()
	spec.Forward = []Forward{{Name: "APPTAINERENV_CUDA_VISIBLE_DEVICES", From: "FAKE_GPUS"}, {Name: "EMPTY", From: "UNSET_VAR"}}
	spec.Command = []string{"sh", "-c", `printf '%s|%s' "$APPTAINERENV_CUDA_VISIBLE_DEVICES" "${EMPTY-unset}"`}
	script, err := Render(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-s")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "FAKE_GPUS=0,1"} // as Slurm sets CUDA_VISIBLE_DEVICES on the node
	cmd.Stdin = bytes.NewReader(script)
	out, err := cmd.Output()
	if got := string(out); err != nil || got != "0,1|" {
		t.Errorf("forwarded = %q, want %q", got, "0,1|")
	}
	spec.Forward = []Forward{{Name: "X", From: "$(id)"}}
	if _, err := Render(spec, nil); err == nil {
		t.Error("a Forward from a non-identifier was rendered")
	}
}

// FuzzRender: any input is either refused with a *RenderError, or renders a
// script that bash -n accepts and whose body runs exactly the given argv.
func FuzzRender(f *testing.F) {
	f.Add("job", "task-1", "/tmp/%j.out", "hello", "world", "v")
	f.Add("it's", "a|b", "/o", "$(rm -rf /)", "'\"", "`x`")
	f.Add("#x", "\\", "a\nb", "", "\x00", "\xff")
	f.Fuzz(func(t *testing.T, name, comment, output, a1, a2, env string) {
		spec := JobSpec{Name: name, Comment: comment, Output: output, WorkDir: "/tmp",
			Env:     []EnvVar{{"FUZZ", env}},
			Command: append(slices.Clone(printfArgv), a1, a2)}
		script, err := Render(spec, nil)
		if err != nil {
			var re *RenderError
			if !errors.As(err, &re) || script != nil {
				t.Fatalf("refusal is not a *RenderError: %v", err)
			}
			return
		}
		for _, s := range []string{name, comment, output, a1, a2, env} {
			if !utf8.ValidString(s) || strings.ContainsAny(s, "\n\r\x00") {
				t.Fatalf("rendered a value that must be refused: %q", s)
			}
		}
		cmd := exec.Command("bash", "-n")
		cmd.Stdin = bytes.NewReader(script)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("bash -n: %v\n%s\n%s", err, out, script)
		}
		got := strings.Split(strings.TrimSuffix(string(runScript(t, script)), "\x00"), "\x00")
		if !slices.Equal(got, []string{a1, a2}) {
			t.Fatalf("argv = %q, want %q", got, []string{a1, a2})
		}
	})
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain-1.0/x:y,z@h%j": "plain-1.0/x:y,z@h%j",
		"":                    "''",
		"a b":                 "'a b'",
		"it's":                `'it'\''s'`,
		"a=b":                 "'a=b'",
		"~":                   "'~'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
	}
}
