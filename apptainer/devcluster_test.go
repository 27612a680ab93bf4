package apptainer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// devUser returns the dev cluster's Unix account name as a User whose roots
// are their HFS home and work.
func devUser(t *testing.T, name string) User {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("dev cluster user %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	var gids []int
	ids, _ := u.GroupIds()
	for _, g := range ids {
		n, _ := strconv.Atoi(g)
		gids = append(gids, n)
	}
	binds, err := BindsFor(hfsTemplates(), name)
	if err != nil {
		t.Fatal(err)
	}
	var roots []string
	for _, b := range binds {
		roots = append(roots, b.Src)
	}
	return User{Name: name, UID: uid, GIDs: gids, Roots: roots}
}

func hfsTemplates() []string {
	root := os.Getenv("BATCHGATE_HFS_ROOT")
	return []string{filepath.Join(root, "home", "{user}"), filepath.Join(root, "work", "{user}")}
}

// TestDevClusterHFS checks images in the dev cluster's real HFS tree with its
// real users, and runs the stand-in as alice the way a job would.
func TestDevClusterHFS(t *testing.T) {
	if os.Getenv("SLURM_CONF") == "" || os.Getenv("BATCHGATE_HFS_ROOT") == "" {
		t.Skip("SLURM_CONF or BATCHGATE_HFS_ROOT unset: run `eval \"$(scripts/devcluster env)\"` after `scripts/devcluster up`")
	}
	alice, bob := devUser(t, "alice"), devUser(t, "bob")
	work := alice.Roots[1]
	dir, err := os.MkdirTemp(work, ".apptainer-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	img := place(t, "tiny.sif", dir, "tiny.sif")
	for _, p := range []string{dir, img} {
		if err := os.Chown(p, alice.UID, alice.GIDs[0]); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(img, 0o640); err != nil {
		t.Fatal(err)
	}
	cat, err := NewCatalog(CatalogConfig{Dirs: []string{t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cat.Check(ctx, img, alice); err != nil {
		t.Errorf("alice's own image: %v", err)
	}
	if _, err := cat.Check(ctx, img, bob); !errors.Is(err, ErrOutsideRoots) {
		t.Errorf("alice's image checked for bob = %v, want ErrOutsideRoots", err)
	}
	nosy := bob
	nosy.Roots = append(nosy.Roots, work) // a misconfiguration: the mode bits must still say no
	if _, err := cat.Check(ctx, img, nosy); !errors.Is(err, ErrNotReadable) {
		t.Errorf("alice's image for bob with her work dir as a root = %v, want ErrNotReadable", err)
	}

	binds, err := BindsFor(hfsTemplates(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	argv, err := Command(ExecSpec{Binary: standIn(t), Image: img, Binds: binds, WorkDir: dir,
		Env: []EnvVar{{"GREETING", "hi, alice"}}, Command: `id -un; echo "$GREETING" > out.txt; exit 4`})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("runuser", append([]string{"-u", "alice", "--"}, argv...)...)
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 || strings.TrimSpace(string(out)) != "alice" {
		t.Fatalf("stand-in as alice: %q, %v", out, err)
	}
	fi, err := os.Stat(filepath.Join(dir, "out.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != alice.UID {
		t.Errorf("out.txt owned by uid %d, want alice's %d", st.Uid, alice.UID)
	}
}
