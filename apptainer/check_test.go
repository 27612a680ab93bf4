package apptainer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkSetup lays out an HFS-like tree: home and work of a user with uid
// 1001 (no such account is needed), another user's dir (uid 1002), an
// outside dir, and a site catalog.
type checkSetup struct {
	cat                  *Catalog
	user                 User
	home, work, other, x string
}

const (
	aliceUID = 1001
	aliceGID = 1001
	bobUID   = 1002
	bobGID   = 1002
)

func newCheckSetup(t *testing.T) checkSetup {
	t.Helper()
	base := t.TempDir()
	// t.TempDir makes its directories 0700: open them so uid 1001 can pass.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := checkSetup{
		home:  filepath.Join(base, "hfs", "home", "alice"),
		work:  filepath.Join(base, "hfs", "work", "alice"),
		other: filepath.Join(base, "hfs", "home", "bob"),
		x:     filepath.Join(base, "outside"),
	}
	images := filepath.Join(base, "images")
	for _, d := range []string{s.home, s.work, s.other, s.x, images} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{filepath.Dir(s.home), filepath.Dir(s.work)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	place(t, "tiny.sif", images, "tiny.sif")
	place(t, "tiny.sif", s.home, "mine.sif")
	place(t, "foreign.sif", s.home, "foreign.sif")
	place(t, "tiny.sif", s.x, "elsewhere.sif")
	placeSandbox(t, s.work, "sandbox")
	chownTree(t, s.home, aliceUID, aliceGID, 0o750)
	chownTree(t, s.work, aliceUID, aliceGID, 0o750)
	chownTree(t, s.other, bobUID, bobGID, 0o700)
	cat, err := NewCatalog(CatalogConfig{Dirs: []string{images}})
	if err != nil {
		t.Fatal(err)
	}
	s.cat = cat
	s.user = User{Name: "alice", UID: aliceUID, GIDs: []int{aliceGID}, Roots: []string{s.home, s.work}}
	return s
}

func chownTree(t *testing.T, dir string, uid, gid int, mode os.FileMode) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files to other uids")
	}
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path string, data []byte, uid int, mode os.FileMode) string {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckAccepts(t *testing.T) {
	s := newCheckSetup(t)
	ctx := context.Background()
	for _, tc := range []struct {
		ref, wantType, wantPath string
	}{
		{"tiny", TypeSIF, ""},
		{filepath.Join(s.home, "mine.sif"), TypeSIF, filepath.Join(s.home, "mine.sif")},
		{filepath.Join(s.work, "sandbox"), TypeSandbox, filepath.Join(s.work, "sandbox")},
		{s.home + "/../alice/./mine.sif", TypeSIF, filepath.Join(s.home, "mine.sif")},
	} {
		img, err := s.cat.Check(ctx, tc.ref, s.user)
		if err != nil {
			t.Errorf("Check(%q) = %v", tc.ref, err)
			continue
		}
		if img.Type != tc.wantType || (tc.wantPath != "" && img.Path != tc.wantPath) {
			t.Errorf("Check(%q) = %s at %s", tc.ref, img.Type, img.Path)
		}
	}
	// A symlink inside the roots to an image inside the roots resolves.
	link := filepath.Join(s.work, "link.sif")
	if err := os.Symlink(filepath.Join(s.home, "mine.sif"), link); err != nil {
		t.Fatal(err)
	}
	img, err := s.cat.Check(ctx, link, s.user)
	if err != nil || img.Path != filepath.Join(s.home, "mine.sif") {
		t.Errorf("Check(link) = %v, %v; want the resolved target", img.Path, err)
	}
}

func TestCheckRefuses(t *testing.T) {
	s := newCheckSetup(t)
	sif, err := os.ReadFile(filepath.Join(fixtures(t), "tiny.sif"))
	if err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), sif...)
	// Overwrite the squashfs super block of the root partition.
	if i := strings.Index(string(corrupt), "hsqs"); i > 0 {
		copy(corrupt[i:], "XXXX")
	} else {
		t.Fatal("fixture has no squashfs magic")
	}
	h := s.home
	files := map[string]string{
		"truncated": writeFile(t, filepath.Join(h, "truncated.sif"), sif[:len(sif)/2], aliceUID, 0o644),
		"headonly":  writeFile(t, filepath.Join(h, "headonly.sif"), sif[:100], aliceUID, 0o644),
		"corrupt":   writeFile(t, filepath.Join(h, "corrupt.sif"), corrupt, aliceUID, 0o644),
		"text":      writeFile(t, filepath.Join(h, "notes.sif"), []byte("#!/bin/sh\necho hi\n"), aliceUID, 0o644),
		"empty":     writeFile(t, filepath.Join(h, "empty.sif"), nil, aliceUID, 0o644),
		"private":   writeFile(t, filepath.Join(s.work, "bobs.sif"), sif, bobUID, 0o600),
		"bobdir":    writeFile(t, filepath.Join(s.other, "img.sif"), sif, bobUID, 0o644),
	}
	if err := os.MkdirAll(filepath.Join(h, "emptydir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(s.x, "elsewhere.sif"), filepath.Join(h, "escape.sif")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(s.x, filepath.Join(h, "outdir")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref  string
		code Code
		want error
	}{
		{"", CodeInvalidRef, ErrInvalidRef},
		{"images/tiny.sif", CodeInvalidRef, ErrInvalidRef},
		{"nosuch", CodeNotFound, ErrImageNotFound},
		{filepath.Join(h, "nosuch.sif"), CodeNotFound, ErrImageNotFound},
		{filepath.Join(s.x, "elsewhere.sif"), CodeOutsideRoots, ErrOutsideRoots},
		{h + "/../../../outside/elsewhere.sif", CodeOutsideRoots, ErrOutsideRoots},
		{filepath.Join(h, "escape.sif"), CodeOutsideRoots, ErrOutsideRoots},
		{filepath.Join(h, "outdir", "elsewhere.sif"), CodeOutsideRoots, ErrOutsideRoots},
		{h + "-evil/x.sif", CodeOutsideRoots, ErrOutsideRoots},
		{files["bobdir"], CodeOutsideRoots, ErrOutsideRoots},
		{filepath.Join(s.cat.dirs[0], "tiny.sif"), CodeOutsideRoots, ErrOutsideRoots},
		{files["private"], CodeNotReadable, ErrNotReadable},
		{files["truncated"], CodeNotImage, ErrNotImage},
		{files["headonly"], CodeNotImage, ErrNotImage},
		{files["corrupt"], CodeNotImage, ErrNotImage},
		{files["text"], CodeNotImage, ErrNotImage},
		{files["empty"], CodeNotImage, ErrNotImage},
		{filepath.Join(h, "emptydir"), CodeNotImage, ErrNotImage},
		{filepath.Join(h, "foreign.sif"), CodeWrongArch, ErrWrongArch},
	} {
		_, err := s.cat.Check(context.Background(), tc.ref, s.user)
		var ie *ImageError
		if !errors.As(err, &ie) || ie.Code != tc.code || !errors.Is(err, tc.want) {
			t.Errorf("Check(%q) = %v, want code %s", tc.ref, err, tc.code)
			continue
		}
		if ie.Ref != tc.ref || ie.Reason == "" {
			t.Errorf("Check(%q): ImageError %+v", tc.ref, ie)
		}
		t.Logf("%s: %v", tc.code, err)
	}
}

func TestCheckPermissions(t *testing.T) {
	s := newCheckSetup(t)
	sif := filepath.Join(s.home, "mine.sif")
	ctx := context.Background()
	// Group-readable through a supplementary group.
	writeFile(t, filepath.Join(s.work, "group.sif"), mustRead(t, sif), bobUID, 0o640)
	if err := os.Chown(filepath.Join(s.work, "group.sif"), bobUID, 4242); err != nil {
		t.Fatal(err)
	}
	u := s.user
	if _, err := s.cat.Check(ctx, filepath.Join(s.work, "group.sif"), u); !errors.Is(err, ErrNotReadable) {
		t.Errorf("group file without the group = %v, want ErrNotReadable", err)
	}
	u.GIDs = append(u.GIDs, 4242)
	if _, err := s.cat.Check(ctx, filepath.Join(s.work, "group.sif"), u); err != nil {
		t.Errorf("group file with the group = %v", err)
	}
	// The owner bits decide for the owner, even when "other" could read.
	if err := os.Chmod(sif, 0o044); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cat.Check(ctx, sif, s.user); !errors.Is(err, ErrNotReadable) {
		t.Errorf("owner without r = %v, want ErrNotReadable", err)
	}
	if err := os.Chmod(sif, 0o400); err != nil {
		t.Fatal(err)
	}
	// A directory above the image that the user cannot enter.
	if err := os.Chmod(s.home, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cat.Check(ctx, sif, s.user); !errors.Is(err, ErrNotReadable) {
		t.Errorf("home without x = %v, want ErrNotReadable", err)
	}
	if err := os.Chmod(s.home, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cat.Check(ctx, sif, s.user); err != nil {
		t.Errorf("owner-readable image = %v", err)
	}
	// A catalog image the user's groups may not read.
	if err := os.Chmod(filepath.Join(s.cat.dirs[0], "tiny.sif"), 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cat.Check(ctx, "tiny", s.user); !errors.Is(err, ErrNotReadable) {
		t.Errorf("restricted catalog image = %v, want ErrNotReadable", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
