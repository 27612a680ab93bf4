package daemon

import (
	"context"
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"sync"
	"time"

	"batchgate/apptainer"
	"batchgate/gateway"
)

// images adapts the apptainer package to the Service's Images port.
type images struct {
	catalog    *apptainer.Catalog
	binary     string
	extraFlags []string
	users      *unixUsers
}

func newImages(catalog *apptainer.Catalog, binary string, extraFlags []string) images {
	return images{catalog: catalog, binary: binary, extraFlags: extraFlags,
		users: newUnixUsers(unixUser, time.Now)}
}

func (im images) List(ctx context.Context) ([]gateway.Image, error) {
	list, err := im.catalog.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]gateway.Image, len(list))
	for i, img := range list {
		out[i] = toImage(img)
	}
	return out, nil
}

// Resolve checks ref for the Unix user login, whose HFS roots may hold their own images.
func (im images) Resolve(ctx context.Context, ref, login string, roots []string) (gateway.Image, error) {
	u, err := im.users.lookup(login)
	if err != nil {
		return gateway.Image{}, err
	}
	u.Roots = roots
	img, err := im.catalog.Check(ctx, ref, u)
	var refused *apptainer.ImageError
	if errors.As(err, &refused) {
		return gateway.Image{}, &gateway.Error{Code: gateway.CodeInvalid, Message: refused.Reason, Cause: err}
	}
	if err != nil {
		return gateway.Image{}, fmt.Errorf("check image %q: %w", ref, err)
	}
	return toImage(img), nil
}

func (im images) Command(r gateway.Run) ([]string, []gateway.Forward, error) {
	spec := apptainer.ExecSpec{
		Image: r.Image, Command: r.Command, WorkDir: r.WorkDir, GPUs: r.GPUs,
		ExtraFlags: im.extraFlags, Binary: im.binary,
	}
	for _, e := range r.Env {
		spec.Env = append(spec.Env, apptainer.EnvVar{Name: e.Name, Value: e.Value})
	}
	for _, dir := range r.Binds {
		spec.Binds = append(spec.Binds, apptainer.Bind{Src: dir, Dst: dir})
	}
	argv, err := apptainer.Command(spec)
	if err != nil {
		return nil, nil, err
	}
	var forward []gateway.Forward
	for _, f := range apptainer.RuntimeEnv(spec) {
		forward = append(forward, gateway.Forward{Name: f.Name, From: f.From})
	}
	return argv, forward, nil
}

// userLookupTTL is how long a login's uid and groups are reused. Reading the group database
// (getgrouplist through NSS, perhaps LDAP) costs more than the rest of a start's checks, and every
// create and start asks; a group change reaches the image checks within this time. The job itself
// always runs with the credentials Slurm sees at submission.
const userLookupTTL = 30 * time.Second

// unixUsers caches unixUser's answers (not its failures: a login just created works at once).
type unixUsers struct {
	load    func(login string) (apptainer.User, error)
	now     func() time.Time
	mu      sync.Mutex
	byLogin map[string]unixUserEntry
}

func newUnixUsers(load func(string) (apptainer.User, error), now func() time.Time) *unixUsers {
	return &unixUsers{load: load, now: now, byLogin: map[string]unixUserEntry{}}
}

type unixUserEntry struct {
	user apptainer.User
	at   time.Time
}

// lookup is unixUser(login), from the cache when it is fresh. The User returned has no Roots.
func (c *unixUsers) lookup(login string) (apptainer.User, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.byLogin[login]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < userLookupTTL {
		return e.user, nil
	}
	u, err := c.load(login)
	if err != nil {
		return apptainer.User{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for l, old := range c.byLogin { // drop the stale, so the map holds only recent logins
		if now.Sub(old.at) >= userLookupTTL {
			delete(c.byLogin, l)
		}
	}
	c.byLogin[login] = unixUserEntry{user: u, at: now}
	return u, nil
}

// unixUser looks up the login's uid and groups, which decide what images it may read.
func unixUser(login string) (apptainer.User, error) {
	u, err := user.Lookup(login)
	if err != nil {
		return apptainer.User{}, gateway.Errorf(gateway.CodeInvalid, "%s is not a Unix login on this cluster", login)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return apptainer.User{}, fmt.Errorf("uid of %s: %w", login, err)
	}
	groups, err := u.GroupIds()
	if err != nil {
		return apptainer.User{}, fmt.Errorf("groups of %s: %w", login, err)
	}
	au := apptainer.User{Name: login, UID: uid}
	for _, g := range groups {
		if gid, err := strconv.Atoi(g); err == nil {
			au.GIDs = append(au.GIDs, gid)
		}
	}
	return au, nil
}

func toImage(img apptainer.Image) gateway.Image {
	out := gateway.Image{Name: img.Name, Path: img.Path, Type: img.Type, Size: img.Size, Arch: img.Arch, Labels: img.Labels}
	if !img.Created.IsZero() {
		c := img.Created
		out.Created = &c
	}
	return out
}
