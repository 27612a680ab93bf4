package apptainer

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// EnvVar is one environment variable for the container, in the order given.
type EnvVar struct {
	Name  string
	Value string
}

// Bind makes the host path Src visible at Dst inside the container.
type Bind struct {
	Src, Dst string
	ReadOnly bool
}

// ExecSpec is everything the container command is built from.
type ExecSpec struct {
	Image      string   // absolute path (Image.Path from Check)
	Command    string   // run by /bin/sh -c exactly as typed
	Env        []EnvVar // names validated; values passed byte for byte
	Binds      []Bind
	WorkDir    string   // absolute path inside the container; "" keeps apptainer's default
	GPUs       int      // > 0 adds --nv
	ExtraFlags []string // site-configured flags, passed verbatim before the image
	Binary     string   // default "apptainer"
}

// ErrInvalidSpec is matched (errors.Is) by the error Command returns for a
// spec it refuses; that error lists every problem found.
var ErrInvalidSpec = errors.New("invalid container spec")

// SpecError lists every problem of an ExecSpec at once.
type SpecError struct{ Problems []string }

// Error implements error.
func (e *SpecError) Error() string {
	return "invalid container spec: " + strings.Join(e.Problems, "; ")
}

// Is matches ErrInvalidSpec.
func (e *SpecError) Is(target error) bool { return target == ErrInvalidSpec }

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envPrefix is how values reach the container. --env is not used: apptainer
// parses it with pflag's StringToString, which splits a value on commas
// (CSV) as soon as it holds a second '=', and trims '"' from both ends
// otherwise. APPTAINERENV_NAME variables in apptainer's own environment
// are taken verbatim (split on the first '='), and --no-eval makes the
// container's env injection single-quote them instead of evaluating $(...),
// $VAR and backslashes.
const envPrefix = "APPTAINERENV_"

// Command returns the argv that runs spec.Command in spec.Image:
//
//	[env APPTAINERENV_NAME=VALUE ...] apptainer -q exec --cleanenv --pid --no-eval [--nv]
//	    [--bind SRC:DST[:ro] ...] [--pwd WORKDIR] [EXTRA ...] IMAGE /bin/sh -c COMMAND
//
// The `env` prefix appears only when spec.Env is not empty. Command is pure.
// It returns a *SpecError (matching ErrInvalidSpec) listing every problem:
// an empty or relative image or command; an invalid variable name, a name
// apptainer reserves (APPTAINER*, SINGULARITY*, HOME, PREPEND_PATH,
// APPEND_PATH) or a duplicate; a value with a NUL byte; a bind path that is
// relative or holds ':' or ',' (apptainer's separators); a relative work
// directory; negative GPUs; an empty extra flag.
//
// LD_LIBRARY_PATH is accepted, but apptainer appends /.singularity.d/libs.
func Command(spec ExecSpec) ([]string, error) {
	var p []string
	bin := spec.Binary
	if bin == "" {
		bin = "apptainer"
	}
	if strings.ContainsRune(bin, '=') {
		p = append(p, fmt.Sprintf("binary %q contains '='", bin))
	}
	envArgs, envProblems := envAssignments(spec.Env)
	p = append(p, envProblems...)
	args := []string{bin, "-q", "exec", "--cleanenv", "--pid", "--no-eval"}
	if spec.GPUs < 0 {
		p = append(p, fmt.Sprintf("GPUs %d is negative", spec.GPUs))
	}
	if spec.GPUs > 0 {
		args = append(args, "--nv")
	}
	for _, b := range spec.Binds {
		arg, err := bindArg(b)
		if err != nil {
			p = append(p, err.Error())
			continue
		}
		args = append(args, "--bind", arg)
	}
	if spec.WorkDir != "" {
		if !filepath.IsAbs(spec.WorkDir) {
			p = append(p, fmt.Sprintf("work directory %q is not absolute", spec.WorkDir))
		}
		args = append(args, "--pwd", spec.WorkDir)
	}
	for _, f := range spec.ExtraFlags {
		if f == "" {
			p = append(p, "an extra flag is empty")
		}
	}
	args = append(args, spec.ExtraFlags...)
	if !filepath.IsAbs(spec.Image) {
		p = append(p, fmt.Sprintf("image %q is not an absolute path", spec.Image))
	}
	if strings.TrimSpace(spec.Command) == "" {
		p = append(p, "command is empty")
	}
	if strings.ContainsRune(spec.Command, 0) {
		p = append(p, "command contains a NUL byte")
	}
	if len(p) > 0 {
		return nil, &SpecError{Problems: p}
	}
	args = append(args, spec.Image, "/bin/sh", "-c", spec.Command)
	if len(envArgs) == 0 {
		return args, nil
	}
	return append(append([]string{"env"}, envArgs...), args...), nil
}

func envAssignments(env []EnvVar) (args, problems []string) {
	seen := map[string]bool{}
	for _, e := range env {
		up := strings.ToUpper(e.Name)
		switch {
		case !envName.MatchString(e.Name):
			problems = append(problems, fmt.Sprintf("environment variable name %q is not valid (letters, digits and _, not starting with a digit)", e.Name))
			continue
		case strings.HasPrefix(up, "APPTAINER") || strings.HasPrefix(up, "SINGULARITY"):
			problems = append(problems, fmt.Sprintf("environment variable %s is reserved for apptainer", e.Name))
			continue
		case e.Name == "HOME" || e.Name == "PREPEND_PATH" || e.Name == "APPEND_PATH":
			problems = append(problems, fmt.Sprintf("environment variable %s cannot be set: apptainer gives it a meaning of its own", e.Name))
			continue
		case seen[e.Name]:
			problems = append(problems, fmt.Sprintf("environment variable %s is given twice", e.Name))
			continue
		case strings.ContainsRune(e.Value, 0):
			problems = append(problems, fmt.Sprintf("environment variable %s contains a NUL byte", e.Name))
			continue
		}
		seen[e.Name] = true
		args = append(args, envPrefix+e.Name+"="+e.Value)
	}
	return args, problems
}

func bindArg(b Bind) (string, error) {
	for _, path := range []string{b.Src, b.Dst} {
		if !filepath.IsAbs(path) {
			return "", fmt.Errorf("bind path %q is not absolute", path)
		}
		if strings.ContainsAny(path, ":,") {
			return "", fmt.Errorf("bind path %q contains ':' or ','", path)
		}
	}
	arg := filepath.Clean(b.Src) + ":" + filepath.Clean(b.Dst)
	if b.ReadOnly {
		arg += ":ro"
	}
	return arg, nil
}

// BindsFor expands HFS bind templates for user: "{user}" is replaced by the
// user name, and each result is bound read-write at the same path inside the
// container, so paths in the job's output mean the same inside and out. It
// returns an error if user is not a plain login name or a template does not
// expand to an absolute path usable in a bind.
func BindsFor(templates []string, user string) ([]Bind, error) {
	if !loginName.MatchString(user) {
		return nil, fmt.Errorf("bind templates: user name %q is not a valid login name", user)
	}
	binds := make([]Bind, 0, len(templates))
	for _, t := range templates {
		p := filepath.Clean(strings.ReplaceAll(t, "{user}", user))
		if _, err := bindArg(Bind{Src: p, Dst: p}); err != nil {
			return nil, fmt.Errorf("bind template %q: %w", t, err)
		}
		binds = append(binds, Bind{Src: p, Dst: p})
	}
	return binds, nil
}

var loginName = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*[$]?$`)

// Forward sets variable Name from variable From of the job's environment at run time.
type Forward struct{ Name, From string }

// RuntimeEnv lists the variables the job must set, when it starts, for the command of spec:
// --cleanenv keeps the node's environment out of the container, including CUDA_VISIBLE_DEVICES,
// which Slurm sets to the allocated GPUs only on the node. Passing it as APPTAINERENV_ gives the
// container exactly the allocation (with --nv alone it could see every GPU of the node). The
// job's id is passed too, for logs and checkpoints.
func RuntimeEnv(spec ExecSpec) []Forward {
	f := []Forward{{Name: "APPTAINERENV_SLURM_JOB_ID", From: "SLURM_JOB_ID"}}
	if spec.GPUs > 0 {
		f = append(f, Forward{Name: "APPTAINERENV_CUDA_VISIBLE_DEVICES", From: "CUDA_VISIBLE_DEVICES"})
	}
	return f
}
