package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"
)

// Config is what the Service needs to know about the site.
type Config struct {
	Location *time.Location
	Flavors  []Flavor
	// Path templates on HFS: {user} is the Unix login; LogDir may also use {work}.
	HomeTemplate   string
	WorkTemplate   string
	LogDirTemplate string
	// LogObjectPrefix is where a task's log goes in COS: logs/<project>/<container>/<task>/.
	Now func() time.Time
}

// Service does the work of the gateway: it checks requests against the rules, records intent,
// talks to Slurm and keeps the containers' state. Every method that takes a Principal answers
// CodeNotFound for resources the principal may not see.
type Service struct {
	cfg       Config
	store     Store
	scheduler Scheduler
	images    Images
	logs      Logs
	events    *Broker
	log       *slog.Logger
	flavors   map[string]Flavor

	// submitting holds task ids whose sbatch is in flight in this process, so the request path and
	// the reconciler never submit the same task at once.
	mu         sync.Mutex
	submitting map[string]bool
	sealing    sync.WaitGroup

	stats ReconcileStats
}

// NewService builds the Service from its parts.
func NewService(cfg Config, store Store, scheduler Scheduler, images Images, logs Logs, events *Broker, log *slog.Logger) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	flavors := make(map[string]Flavor, len(cfg.Flavors))
	for _, f := range cfg.Flavors {
		flavors[f.Name] = f
	}
	return &Service{cfg: cfg, store: store, scheduler: scheduler, images: images, logs: logs, events: events, log: log,
		flavors: flavors, submitting: map[string]bool{}}
}

// Location is the cluster's time zone.
func (s *Service) Location() *time.Location { return s.cfg.Location }

// Events is the broker the Service publishes changes to.
func (s *Service) Events() *Broker { return s.events }

// Flavors lists the configured flavors in configuration order.
func (s *Service) Flavors() []Flavor { return s.cfg.Flavors }

// Flavor returns the named flavor, or CodeNotFound.
func (s *Service) Flavor(name string) (Flavor, error) {
	f, ok := s.flavors[name]
	if !ok {
		return Flavor{}, NotFound("flavor", name)
	}
	return f, nil
}

// Images lists the site's image catalog.
func (s *Service) Images(ctx context.Context) ([]Image, error) { return s.images.List(ctx) }

// CreateContainer validates spec and creates an Inactive container owned by p in spec.Project.
// Every problem of the request is reported at once (CodeInvalid with field errors). With an
// idempotency key used before by p, it returns the container that first request created.
func (s *Service) CreateContainer(ctx context.Context, p Principal, spec ContainerSpec, key string) (*Container, error) {
	if err := s.checkSpec(ctx, p, &spec); err != nil {
		return nil, err
	}
	now := s.cfg.Now().UTC()
	c := &Container{
		ID: newID("ctr"), Project: spec.Project, Owner: p.User, Name: spec.Name, Image: spec.Image,
		Flavor: spec.Flavor, Command: spec.Command, Env: spec.Env, Schedule: spec.Schedule,
		State: Inactive, Favorite: spec.Favorite, CreatedAt: now, UpdatedAt: now,
	}
	if c.Env == nil {
		c.Env = []EnvVar{}
	}
	err := s.store.CreateContainer(ctx, c, key)
	var replay *ReplayError
	if errors.As(err, &replay) {
		return s.store.Container(ctx, replay.ID)
	}
	if err != nil {
		return nil, err
	}
	s.publishContainer(c, false)
	return c, nil
}

// checkSpec canonicalises and validates a spec for p, including the things only the Service
// knows: the project membership, the flavor and the image.
func (s *Service) checkSpec(ctx context.Context, p Principal, spec *ContainerSpec) error {
	spec.Canonicalize()
	problems := spec.Validate(s.cfg.Now(), s.cfg.Location)
	switch {
	case spec.Project == "":
		problems.Add("project", "is required: one of your projects (%s)", strings.Join(projectNames(p), ", "))
	case !p.CanCreateIn(spec.Project):
		problems.Add("project", "you are not a member of project %q; yours: %s", spec.Project, strings.Join(projectNames(p), ", "))
	}
	if spec.Flavor != "" {
		if _, ok := s.flavors[spec.Flavor]; !ok {
			problems.Add("flavor", "%q is not a flavor; accepted: %s", spec.Flavor, strings.Join(s.flavorNames(), ", "))
		}
	}
	if spec.Image != "" {
		if _, err := s.images.Resolve(ctx, spec.Image, p.User, s.userRoots(p.User)); err != nil {
			if ErrorCode(err) != CodeInvalid && ErrorCode(err) != CodeNotFound {
				return fmt.Errorf("check image: %w", err)
			}
			problems.Add("image", "%s", messageOf(err))
		}
	}
	return problems.Err("the container spec has problems")
}

// GetContainer returns a container p may see.
func (s *Service) GetContainer(ctx context.Context, p Principal, id string) (*Container, error) {
	c, err := s.store.Container(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.CanAccess(c.Project, c.Owner) {
		return nil, NotFound("container", id)
	}
	return c, nil
}

// ListContainers returns one page of the containers p may see.
func (s *Service) ListContainers(ctx context.Context, p Principal, f ContainerFilter) ([]*Container, string, error) {
	f.Visible = p
	if f.State != "" && f.State != Inactive && f.State != Ready && f.State != Running {
		return nil, "", (&Problems{{Field: "state", Detail: "accepted: Inactive, Ready, Running"}}).Err("bad filter")
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 500 {
		return nil, "", (&Problems{{Field: "limit", Detail: "at most 500"}}).Err("bad filter")
	}
	return s.store.Containers(ctx, f)
}

// UpdateContainer replaces the spec of an Inactive container (the project cannot change).
func (s *Service) UpdateContainer(ctx context.Context, p Principal, id string, spec ContainerSpec) (*Container, error) {
	c, err := s.GetContainer(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if _, err := c.State.Next(ActUpdate); err != nil {
		return nil, err
	}
	if spec.Project == "" {
		spec.Project = c.Project
	}
	if spec.Project != c.Project {
		return nil, (&Problems{{Field: "project", Detail: "cannot be changed; create a new container in the other project"}}).Err("the container spec has problems")
	}
	// The owner's identity decides which HFS roots an image path may come from.
	owner := Principal{User: c.Owner, Projects: map[string]Role{c.Project: RoleMember}}
	if err := s.checkSpec(ctx, owner, &spec); err != nil {
		return nil, err
	}
	c.Name, c.Image, c.Flavor, c.Command, c.Env, c.Schedule, c.Favorite =
		spec.Name, spec.Image, spec.Flavor, spec.Command, spec.Env, spec.Schedule, spec.Favorite
	if c.Env == nil {
		c.Env = []EnvVar{}
	}
	c.UpdatedAt = s.cfg.Now().UTC()
	if err := s.store.UpdateContainer(ctx, c); err != nil {
		return nil, err
	}
	s.publishContainer(c, false)
	return c, nil
}

// DeleteContainer removes an Inactive container; its tasks stay in the usage history.
func (s *Service) DeleteContainer(ctx context.Context, p Principal, id string) error {
	c, err := s.GetContainer(ctx, p, id)
	if err != nil {
		return err
	}
	if _, err := c.State.Next(ActDelete); err != nil {
		return err
	}
	if err := s.store.DeleteContainer(ctx, id); err != nil {
		return err
	}
	s.publishContainer(c, true)
	return nil
}

// ContainerTasks lists the tasks of a container p may see, newest first.
func (s *Service) ContainerTasks(ctx context.Context, p Principal, id string) ([]*Task, error) {
	if _, err := s.GetContainer(ctx, p, id); err != nil {
		return nil, err
	}
	return s.store.Tasks(ctx, id)
}

// GetTask returns a task p may see.
func (s *Service) GetTask(ctx context.Context, p Principal, id string) (*Task, error) {
	t, err := s.store.Task(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.CanAccess(t.Project, t.Owner) {
		return nil, NotFound("task", id)
	}
	return t, nil
}

// TaskHistory lists the recorded state changes of a task p may see.
func (s *Service) TaskHistory(ctx context.Context, p Principal, id string) ([]TaskEvent, error) {
	if _, err := s.GetTask(ctx, p, id); err != nil {
		return nil, err
	}
	return s.store.TaskEvents(ctx, id)
}

// TaskScript returns the exact batch script submitted for task id, for p who may see the task.
// Errors: CodeNotFound when there is no such task or p may not see it (as GetTask), and
// CodeNotFound with its own message when the task has no stored script.
func (s *Service) TaskScript(ctx context.Context, p Principal, id string) (string, error) {
	t, err := s.GetTask(ctx, p, id)
	if err != nil {
		return "", err
	}
	if t.Script == "" {
		return "", Errorf(CodeNotFound, "task %q has no stored script: it was never submitted with one", id)
	}
	return t.Script, nil
}

// Estimate prices a flavor per hour and for its time limit.
func (s *Service) Estimate(flavor string) (Estimate, error) {
	f, err := s.Flavor(flavor)
	if err != nil {
		return Estimate{}, err
	}
	return f.Estimate(), nil
}

func (s *Service) flavorNames() []string {
	names := make([]string, 0, len(s.cfg.Flavors))
	for _, f := range s.cfg.Flavors {
		names = append(names, f.Name)
	}
	return names
}

func projectNames(p Principal) []string {
	var names []string
	for name := range p.Projects {
		names = append(names, name)
	}
	if len(names) == 0 {
		return []string{"(none)"}
	}
	return names
}

// messageOf returns the user-facing message of a domain error, or the error text.
func messageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// HomeDir is the user's HFS home directory.
func (s *Service) HomeDir(user string) string {
	return strings.ReplaceAll(s.cfg.HomeTemplate, "{user}", user)
}

// WorkDir is the user's HFS work directory.
func (s *Service) WorkDir(user string) string {
	return strings.ReplaceAll(s.cfg.WorkTemplate, "{user}", user)
}

func (s *Service) userRoots(user string) []string { return []string{s.HomeDir(user), s.WorkDir(user)} }

// logPath is where task taskID of container c writes its log on HFS: one directory per user,
// made once (see Logs.Prepare), so starting a task need not make a directory each time.
func (s *Service) logPath(c *Container, taskID string) string {
	dir := strings.ReplaceAll(s.cfg.LogDirTemplate, "{work}", s.WorkDir(c.Owner))
	dir = strings.ReplaceAll(dir, "{user}", c.Owner)
	return path.Join(dir, taskID+".log")
}

// LogObjectPrefix is where task t's log goes in COS.
func LogObjectPrefix(project, containerID, taskID string) string {
	return "logs/" + project + "/" + containerID + "/" + taskID + "/"
}

func (s *Service) publishContainer(c *Container, deleted bool) {
	cp := *c
	s.events.Publish(Event{Type: "container", Project: c.Project, Owner: c.Owner, ContainerID: c.ID,
		State: string(c.State), Container: &cp, Deleted: deleted})
}

func (s *Service) publishTask(t *Task) {
	cp := *t
	s.events.Publish(Event{Type: "task", Project: t.Project, Owner: t.Owner, ContainerID: t.ContainerID,
		TaskID: t.ID, State: string(t.State), Reason: t.Reason, Task: &cp})
}

// newID returns prefix_ plus a time-ordered, random suffix: ids sort by creation.
func newID(prefix string) string {
	var r [5]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s_%013x%s", prefix, time.Now().UnixMicro(), hex.EncodeToString(r[:]))
}

// TaskCounts counts all tasks by state, for monitoring.
func (s *Service) TaskCounts(ctx context.Context) (map[TaskState]int, error) {
	return s.store.TaskCounts(ctx)
}
