package slurm

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// JobSpec is everything batchgate puts in a batch script. Zero values mean
// "leave it to Slurm" (the directive is not written), except Command, which
// is required.
type JobSpec struct {
	Name        string        // --job-name
	Account     string        // --account (a Slurm account = a project)
	Partition   string        // --partition
	GPUs        int           // --gres=gpu[:GPUType]:GPUs
	GPUType     string        // e.g. "a100"; needs GPUs > 0
	CPUsPerTask int           // --cpus-per-task
	MemoryMB    int           // --mem in MiB
	TimeLimit   time.Duration // --time, rounded up to whole minutes
	Begin       time.Time     // --begin; zero = eligible at once
	WorkDir     string        // --chdir, an absolute path
	Output      string        // --output (stdout and stderr), may hold %j etc.
	Comment     string        // --comment: the gateway's task id
	// Forward are variables set when the job starts from others of the job's own environment
	// (e.g. APPTAINERENV_CUDA_VISIBLE_DEVICES from the CUDA_VISIBLE_DEVICES Slurm sets for the
	// allocation): values only known on the node. Both names must be plain variable names.
	Forward []Forward
	// Env are variables exported in the script body, in order, on top of the
	// user's login environment (the script has --export=NONE).
	Env []EnvVar
	// Command is the job's argv (e.g. the apptainer command); it is exec'd.
	Command []string
}

// Forward sets the variable Name from the variable From at run time ("" when From is unset).
type Forward struct {
	Name string
	From string
}

// EnvVar is one environment variable of a job.
type EnvVar struct {
	Name  string
	Value string
}

//go:embed script.tmpl
var scriptText string

var scriptTmpl = template.Must(template.New("script").Parse(scriptText))

// scriptData is what script.tmpl sees: every value already quoted.
type scriptData struct {
	Comment    string
	Begin      string
	BeginLocal string
	Zone       string
	Directives []string
	Env        []string
	Command    string
}

// Render writes spec as a bash batch script for sbatch. loc is the cluster's
// zone, used only for the human-readable begin time in a comment (nil = UTC).
// A spec that cannot be rendered safely is refused before anything is
// written: the returned error joins one *RenderError per problem (control
// characters or invalid UTF-8 anywhere; '#' or '\' in a directive value;
// names outside Slurm's plain charset; a relative WorkDir; an empty Command
// or an empty argument; negative numbers ...).
func Render(spec JobSpec, loc *time.Location) ([]byte, error) {
	if loc == nil {
		loc = time.UTC
	}
	var v validator
	d := scriptData{Comment: spec.Comment}
	d.Directives = v.directives(spec)
	for _, e := range spec.Env {
		field := "Env[" + e.Name + "]"
		if !envNameRE.MatchString(e.Name) {
			v.add(field, "not a valid variable name")
			continue
		}
		v.text(field, e.Value)
		d.Env = append(d.Env, e.Name+"="+Quote(e.Value))
	}
	for _, f := range spec.Forward {
		if !envNameRE.MatchString(f.Name) || !envNameRE.MatchString(f.From) {
			v.add("Forward["+f.Name+"]", "not a valid variable name")
			continue
		}
		// Both names are plain identifiers, so the double-quoted expansion is all that runs.
		d.Env = append(d.Env, f.Name+`="${`+f.From+`-}"`)
	}
	if len(spec.Command) == 0 {
		v.add("Command", "is empty")
	}
	args := make([]string, len(spec.Command))
	for i, a := range spec.Command {
		field := "Command[" + strconv.Itoa(i) + "]"
		if a == "" {
			v.add(field, "is an empty argument")
		}
		v.text(field, a)
		args[i] = Quote(a)
	}
	d.Command = strings.Join(args, " ")
	if !spec.Begin.IsZero() {
		d.Begin = BeginValue(spec.Begin)
		d.BeginLocal = spec.Begin.In(loc).Format("2006-01-02 15:04:05 MST")
		d.Zone = loc.String()
	}
	if err := errors.Join(v.errs...); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := scriptTmpl.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("render script: %w", err)
	}
	return buf.Bytes(), nil
}

// Render renders spec with the client's cluster zone (see the package Render).
func (c *Client) Render(spec JobSpec) ([]byte, error) { return Render(spec, c.cfg.Location) }

var (
	envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// plainRE is Slurm's charset for accounts, partitions and GPU types.
	plainRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

type validator struct{ errs []error }

func (v *validator) add(field, reason string) {
	v.errs = append(v.errs, &RenderError{Field: field, Reason: reason})
}

// text refuses what no script may contain: invalid UTF-8 and control
// characters (newlines would end a directive or a command line).
func (v *validator) text(field, s string) bool {
	if !utf8.ValidString(s) {
		v.add(field, "is not valid UTF-8")
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			v.add(field, fmt.Sprintf("contains control character %U", r))
			return false
		}
	}
	return true
}

// directive validates one #SBATCH value and returns "name=quoted value".
// sbatch cuts a directive at an unquoted '#', and reads '\' as an escape even
// inside quotes, unlike bash: both are refused so that sbatch and a reader
// see the same value.
func (v *validator) directive(field, name, value string) string {
	if !v.text(field, value) {
		return ""
	}
	switch {
	case strings.Contains(value, "#"):
		v.add(field, "contains '#', which starts a comment in an #SBATCH line")
	case strings.Contains(value, `\`):
		v.add(field, `contains '\', which sbatch and bash read differently`)
	}
	return name + "=" + Quote(value)
}

func (v *validator) plain(field, name, value string) string {
	if !plainRE.MatchString(value) {
		v.add(field, "must be letters, digits, '_', '.' or '-'")
		return ""
	}
	return name + "=" + value
}

func (v *validator) directives(s JobSpec) []string {
	var d []string
	add := func(dir string) {
		if dir != "" {
			d = append(d, dir)
		}
	}
	if s.Name != "" {
		add(v.directive("Name", "job-name", s.Name))
	}
	if s.Account != "" {
		add(v.plain("Account", "account", s.Account))
	}
	if s.Partition != "" {
		add(v.plain("Partition", "partition", s.Partition))
	}
	add(v.gres(s))
	if v.nonNegative("CPUsPerTask", s.CPUsPerTask) {
		add("cpus-per-task=" + strconv.Itoa(s.CPUsPerTask))
	}
	if v.nonNegative("MemoryMB", s.MemoryMB) {
		add("mem=" + strconv.Itoa(s.MemoryMB) + "M")
	}
	if s.TimeLimit < 0 {
		v.add("TimeLimit", "is negative")
	} else if s.TimeLimit > 0 {
		add("time=" + timeLimitValue(s.TimeLimit))
	}
	if !s.Begin.IsZero() {
		add("begin=" + BeginValue(s.Begin))
	}
	if s.WorkDir != "" {
		if !path.IsAbs(s.WorkDir) {
			v.add("WorkDir", "is not an absolute path")
		}
		add(v.directive("WorkDir", "chdir", s.WorkDir))
	}
	if s.Output != "" {
		add(v.directive("Output", "output", s.Output))
	}
	if s.Comment != "" {
		add(v.directive("Comment", "comment", s.Comment))
	}
	return append(d, "export=NONE")
}

func (v *validator) nonNegative(field string, n int) bool {
	if n < 0 {
		v.add(field, "is negative")
	}
	return n > 0
}

func (v *validator) gres(s JobSpec) string {
	switch {
	case s.GPUs < 0:
		v.add("GPUs", "is negative")
	case s.GPUs == 0 && s.GPUType != "":
		v.add("GPUType", "is set but GPUs is 0")
	case s.GPUs > 0 && s.GPUType != "":
		if v.plain("GPUType", "gres", s.GPUType) != "" {
			return "gres=gpu:" + s.GPUType + ":" + strconv.Itoa(s.GPUs)
		}
	case s.GPUs > 0:
		return "gres=gpu:" + strconv.Itoa(s.GPUs)
	}
	return ""
}

// timeLimitValue writes d as Slurm's days-hours:minutes:seconds, rounded up
// to whole minutes (Slurm's own granularity).
func timeLimitValue(d time.Duration) string {
	m := int64((d + time.Minute - 1) / time.Minute)
	return fmt.Sprintf("%d-%02d:%02d:00", m/(24*60), m/60%24, m%60)
}

// Quote is the one quoting function of rendered scripts: s as one bash word,
// bare when it holds only characters bash and sbatch take literally, else in
// single quotes, each inner quote written as close-quote, backslash-quote,
// open-quote. sbatch's #SBATCH parser reads that form as bash does (for
// values without a backslash).
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, notBare) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func notBare(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("_@%+:,./-", r)
}
