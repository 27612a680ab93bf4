package apptainer

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCommand(t *testing.T) {
	base := []string{"apptainer", "-q", "exec", "--cleanenv", "--pid", "--no-eval"}
	for _, tc := range []struct {
		name string
		spec ExecSpec
		want []string
	}{
		{
			name: "minimal",
			spec: ExecSpec{Image: "/img/a.sif", Command: "echo hi"},
			want: append(slices.Clone(base), "/img/a.sif", "/bin/sh", "-c", "echo hi"),
		},
		{
			name: "everything",
			spec: ExecSpec{
				Image:      "/hfs/work/alice/a.sif",
				Command:    `python train.py --lr 1e-3 "$DATA" | tee out; exit ${PIPESTATUS:-0}`,
				Env:        []EnvVar{{"B", "2"}, {"A", "x,y=z \"q\" $(id) 'n'\nl"}},
				Binds:      []Bind{{Src: "/hfs/home/alice", Dst: "/hfs/home/alice"}, {Src: "/data/", Dst: "/mnt/data", ReadOnly: true}},
				WorkDir:    "/hfs/work/alice",
				GPUs:       2,
				ExtraFlags: []string{"--drop-caps", "CAP_SYS_RESOURCE"},
				Binary:     "/opt/apptainer/bin/apptainer",
			},
			want: []string{"env", "APPTAINERENV_B=2", "APPTAINERENV_A=x,y=z \"q\" $(id) 'n'\nl",
				"/opt/apptainer/bin/apptainer", "-q", "exec", "--cleanenv", "--pid", "--no-eval", "--nv",
				"--bind", "/hfs/home/alice:/hfs/home/alice", "--bind", "/data:/mnt/data:ro",
				"--pwd", "/hfs/work/alice", "--drop-caps", "CAP_SYS_RESOURCE",
				"/hfs/work/alice/a.sif", "/bin/sh", "-c", `python train.py --lr 1e-3 "$DATA" | tee out; exit ${PIPESTATUS:-0}`},
		},
		{
			name: "empty value and no GPUs",
			spec: ExecSpec{Image: "/i.sif", Command: "true", Env: []EnvVar{{"EMPTY", ""}}, GPUs: 0},
			want: append([]string{"env", "APPTAINERENV_EMPTY="}, append(slices.Clone(base), "/i.sif", "/bin/sh", "-c", "true")...),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Command(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Command =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestCommandRefuses(t *testing.T) {
	ok := ExecSpec{Image: "/i.sif", Command: "true"}
	for _, tc := range []struct {
		name   string
		edit   func(*ExecSpec)
		reason string
	}{
		{"relative image", func(s *ExecSpec) { s.Image = "i.sif" }, "image"},
		{"no image", func(s *ExecSpec) { s.Image = "" }, "image"},
		{"empty command", func(s *ExecSpec) { s.Command = "  " }, "command is empty"},
		{"bad name", func(s *ExecSpec) { s.Env = []EnvVar{{"1X", "v"}} }, "not valid"},
		{"name with =", func(s *ExecSpec) { s.Env = []EnvVar{{"A=B", "v"}} }, "not valid"},
		{"apptainer var", func(s *ExecSpec) { s.Env = []EnvVar{{"APPTAINER_BIND", "/"}} }, "reserved"},
		{"apptainerenv var", func(s *ExecSpec) { s.Env = []EnvVar{{"APPTAINERENV_X", "/"}} }, "reserved"},
		{"singularity var", func(s *ExecSpec) { s.Env = []EnvVar{{"singularity_x", "/"}} }, "reserved"},
		{"HOME", func(s *ExecSpec) { s.Env = []EnvVar{{"HOME", "/x"}} }, "meaning of its own"},
		{"PREPEND_PATH", func(s *ExecSpec) { s.Env = []EnvVar{{"PREPEND_PATH", "/x"}} }, "meaning of its own"},
		{"duplicate", func(s *ExecSpec) { s.Env = []EnvVar{{"A", "1"}, {"A", "2"}} }, "twice"},
		{"NUL value", func(s *ExecSpec) { s.Env = []EnvVar{{"A", "a\x00b"}} }, "NUL"},
		{"bind colon", func(s *ExecSpec) { s.Binds = []Bind{{Src: "/a:b", Dst: "/a"}} }, "':' or ','"},
		{"bind comma", func(s *ExecSpec) { s.Binds = []Bind{{Src: "/a", Dst: "/a,b"}} }, "':' or ','"},
		{"bind relative", func(s *ExecSpec) { s.Binds = []Bind{{Src: "a", Dst: "/a"}} }, "not absolute"},
		{"workdir relative", func(s *ExecSpec) { s.WorkDir = "work" }, "work directory"},
		{"negative GPUs", func(s *ExecSpec) { s.GPUs = -1 }, "negative"},
		{"empty extra flag", func(s *ExecSpec) { s.ExtraFlags = []string{""} }, "extra flag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.edit(&s)
			argv, err := Command(s)
			var se *SpecError
			if !errors.Is(err, ErrInvalidSpec) || !errors.As(err, &se) || argv != nil {
				t.Fatalf("Command = %q, %v; want a SpecError", argv, err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not mention %q", err, tc.reason)
			}
		})
	}
}

func TestCommandReportsEveryProblem(t *testing.T) {
	_, err := Command(ExecSpec{Image: "rel", Command: "", Env: []EnvVar{{"9", ""}}, GPUs: -2})
	var se *SpecError
	if !errors.As(err, &se) || len(se.Problems) != 4 {
		t.Fatalf("Command = %v, want 4 problems", err)
	}
}

func TestBindsFor(t *testing.T) {
	got, err := BindsFor([]string{"/hfs/home/{user}", "/hfs/work/{user}/", "/scratch"}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := []Bind{{Src: "/hfs/home/alice", Dst: "/hfs/home/alice"}, {Src: "/hfs/work/alice", Dst: "/hfs/work/alice"}, {Src: "/scratch", Dst: "/scratch"}}
	if !slices.Equal(got, want) {
		t.Errorf("BindsFor = %v", got)
	}
	for _, tc := range []struct {
		tmpl []string
		user string
	}{
		{[]string{"/hfs/home/{user}"}, "../root"},
		{[]string{"/hfs/home/{user}"}, ".."},
		{[]string{"/hfs/home/{user}"}, "a,b"},
		{[]string{"hfs/{user}"}, "alice"},
		{[]string{"/hfs:{user}"}, "alice"},
	} {
		if b, err := BindsFor(tc.tmpl, tc.user); err == nil {
			t.Errorf("BindsFor(%q, %q) = %v, want an error", tc.tmpl, tc.user, b)
		}
	}
}
