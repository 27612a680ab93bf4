package gateway

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Container is a scheduled container: a job template that runs as one task each time it is
// started. It belongs to a project (a Slurm account) and an owner (a Unix login).
type Container struct {
	ID          string         `json:"id" db:"id"`
	Project     string         `json:"project" db:"project"`
	Owner       string         `json:"owner" db:"owner"`
	Name        string         `json:"name" db:"name"`
	Image       string         `json:"image" db:"image"`
	Flavor      string         `json:"flavor" db:"flavor"`
	Command     string         `json:"command" db:"command"`
	Env         []EnvVar       `json:"env" db:"-"`
	Schedule    Schedule       `json:"schedule" db:"-"`
	State       ContainerState `json:"state" db:"state"`
	Favorite    bool           `json:"favorite" db:"favorite"`
	CurrentTask string         `json:"current_task,omitempty" db:"current_task"`
	CreatedAt   time.Time      `json:"created_at" db:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at" db:"updated_at"`
}

// EnvVar is one environment variable given to the container, in order.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ContainerSpec is what a user gives to create or update a container.
type ContainerSpec struct {
	Project  string   `json:"project"`
	Name     string   `json:"name"`
	Image    string   `json:"image"`
	Flavor   string   `json:"flavor"`
	Command  string   `json:"command"`
	Env      []EnvVar `json:"env"`
	Schedule Schedule `json:"schedule"`
	Favorite bool     `json:"favorite"`
}

var (
	containerNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	envNameRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// Limits on what a spec may hold; generous for real use, small enough to keep records and the
// rendered script reasonable.
const (
	maxCommandBytes = 64 << 10
	maxEnvVars      = 128
	maxEnvValue     = 32 << 10
)

// reservedEnvPrefixes are set by Slurm or Apptainer themselves; a user's value would be ignored or
// would change how the container runs, so they are refused rather than silently dropped.
var reservedEnvPrefixes = []string{"SLURM_", "APPTAINER", "SINGULARITY", "BATCHGATE_"}

// reservedEnvNames are set by Apptainer for the container (HOME is the bound home directory) or
// have a special meaning to it (PREPEND_PATH, APPEND_PATH).
var reservedEnvNames = map[string]bool{"HOME": true, "PREPEND_PATH": true, "APPEND_PATH": true}

// Canonicalize applies defaults and trims what may be trimmed: a missing schedule kind is manual.
func (s *ContainerSpec) Canonicalize() {
	s.Name = strings.TrimSpace(s.Name)
	s.Image = strings.TrimSpace(s.Image)
	s.Flavor = strings.TrimSpace(s.Flavor)
	if s.Schedule.Kind == "" {
		s.Schedule.Kind = ScheduleManual
	}
}

// Validate checks the spec against the rules that need no outside knowledge, at time now in the
// cluster's zone, and returns every problem at once (a CodeInvalid *Error), or nil. Whether the
// image and flavor exist is checked by the Service, which knows the catalog and the flavors.
func (s ContainerSpec) Validate(now time.Time, loc *time.Location) Problems {
	var p Problems
	if !containerNameRE.MatchString(s.Name) {
		p.Add("name", "must be 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit")
	}
	if s.Image == "" {
		p.Add("image", "is required: a catalog image name or a path in your HFS directories")
	}
	if s.Flavor == "" {
		p.Add("flavor", "is required: one of the configured flavors (GET /api/v1/flavors)")
	}
	switch {
	case strings.TrimSpace(s.Command) == "":
		p.Add("command", "is required: the command run inside the container by /bin/sh -c")
	case len(s.Command) > maxCommandBytes:
		p.Add("command", "is %d bytes; at most %d are accepted", len(s.Command), maxCommandBytes)
	case !utf8.ValidString(s.Command) || strings.ContainsRune(s.Command, 0):
		p.Add("command", "must be UTF-8 text without NUL bytes")
	}
	validateEnv(s.Env, &p)
	switch s.Schedule.Kind {
	case ScheduleManual:
		if s.Schedule.At != nil {
			p.Add("schedule.at", "must be empty for a manual schedule")
		}
	case ScheduleAt:
		if s.Schedule.At == nil {
			p.Add("schedule.at", "is required for schedule kind \"at\": a whole hour, e.g. %s", NextWholeHour(now, loc).Format(time.RFC3339))
		} else if msg := CheckScheduledHour(*s.Schedule.At, now, loc); msg != "" {
			p.Add("schedule.at", "%s", msg)
		}
	default:
		p.Add("schedule.kind", "must be \"manual\" or \"at\"")
	}
	return p
}

func validateEnv(env []EnvVar, p *Problems) {
	if len(env) > maxEnvVars {
		p.Add("env", "has %d variables; at most %d are accepted", len(env), maxEnvVars)
		return
	}
	seen := map[string]bool{}
	for i, e := range env {
		field := fmt.Sprintf("env[%d].name", i)
		switch {
		case !envNameRE.MatchString(e.Name):
			p.Add(field, "%q is not a variable name: letters, digits and '_', not starting with a digit", e.Name)
		case seen[e.Name]:
			p.Add(field, "%q is given twice", e.Name)
		case reservedEnvNames[e.Name]:
			p.Add(field, "%q is set by the container runtime and cannot be given", e.Name)
		case hasReservedPrefix(e.Name):
			p.Add(field, "%q is reserved (names starting with %s are set by the cluster)", e.Name, strings.Join(reservedEnvPrefixes, ", "))
		}
		seen[e.Name] = true
		if len(e.Value) > maxEnvValue || !utf8.ValidString(e.Value) || strings.ContainsRune(e.Value, 0) {
			p.Add(fmt.Sprintf("env[%d].value", i), "must be UTF-8 text without NUL bytes, at most %d bytes", maxEnvValue)
		}
	}
}

func hasReservedPrefix(name string) bool {
	for _, prefix := range reservedEnvPrefixes {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}
