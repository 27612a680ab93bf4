package apptainer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// User is the person an image is checked for: the Unix account the job will
// run as, and the directories (their HFS home and work) they may name images in.
type User struct {
	Name  string
	UID   int
	GIDs  []int    // primary and supplementary groups
	Roots []string // absolute directories; images by path must resolve inside one
}

// Check resolves ref for u and returns the image a job may run. ref is either
// a catalog name (no '/') or an absolute path inside one of u.Roots; a
// symlink is followed and its target must be inside a root too. Image.Path
// is the resolved path, which is what the job should be given.
//
// The gateway runs as root, so readability is judged from mode bits against
// u.UID and u.GIDs (ACLs are not consulted), for the image and every
// directory above it. Refusals are *ImageError values (see the Code
// constants); other errors mean the check itself failed. The image can still
// change between Check and the job's start: apptainer checks again there.
func (c *Catalog) Check(ctx context.Context, ref string, u User) (Image, error) {
	if ref == "" {
		return Image{}, refuse(ref, CodeInvalidRef, "no image given")
	}
	if !strings.ContainsRune(ref, '/') {
		img, err := c.Lookup(ctx, ref)
		if err != nil {
			return Image{}, err
		}
		if err := readableBy(img.Path, u); err != nil {
			return Image{}, refuse(ref, CodeNotReadable, "the site image is not readable by %s; ask the site administrators for access", u.Name)
		}
		return img, nil
	}
	if !filepath.IsAbs(ref) {
		return Image{}, refuse(ref, CodeInvalidRef, "give a catalog image name or an absolute path in your home or work directory")
	}
	return c.checkPath(ref, u)
}

func (c *Catalog) checkPath(ref string, u User) (Image, error) {
	// Lexical first: a path that names a place outside the roots is refused
	// without touching the file system, so its existence is never revealed.
	clean := filepath.Clean(ref)
	if !insideAny(clean, u.Roots, false) {
		if insideAny(clean, c.dirs, false) {
			return Image{}, refuse(ref, CodeOutsideRoots, "site images are named by their catalog name: use %q", catalogName(filepath.Base(clean), false))
		}
		return Image{}, outside(ref, u)
	}
	resolved, err := filepath.EvalSymlinks(clean)
	if errors.Is(err, fs.ErrNotExist) {
		return Image{}, refuse(ref, CodeNotFound, "there is no file or directory at this path")
	}
	if err != nil {
		return Image{}, refuse(ref, CodeNotReadable, "the path cannot be followed: %v", unwrapPath(err))
	}
	if !insideAny(resolved, u.Roots, true) {
		return Image{}, refuse(ref, CodeOutsideRoots, "the path leads (through a symbolic link) outside your home and work directories; copy the image there")
	}
	if err := readableBy(resolved, u); err != nil {
		return Image{}, refuse(ref, CodeNotReadable, "%v; fix the permissions (chmod) so that %s can read it", err, u.Name)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return Image{}, fmt.Errorf("stat image: %w", err)
	}
	img, err := inspect(resolved, fi)
	var ni *notImageError
	if errors.As(err, &ni) {
		return Image{}, refuse(ref, CodeNotImage, "%s; give a SIF file or a sandbox directory", ni.reason)
	}
	if err != nil {
		return Image{}, fmt.Errorf("inspect image: %w", err)
	}
	if !c.archOK(img) {
		return Image{}, c.wrongArch(ref, img)
	}
	return img, nil
}

func outside(ref string, u User) *ImageError {
	return refuse(ref, CodeOutsideRoots, "the path is outside your home and work directories (%s)", strings.Join(u.Roots, ", "))
}

// insideAny reports whether p is one of roots or below one. With resolve,
// roots are compared with their symlinks resolved, as p then is.
func insideAny(p string, roots []string, resolve bool) bool {
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			continue
		}
		r = filepath.Clean(r)
		if resolve {
			rr, err := filepath.EvalSymlinks(r)
			if err != nil {
				continue
			}
			r = rr
		}
		if p == r || strings.HasPrefix(p, r+string(filepath.Separator)) || r == "/" {
			return true
		}
	}
	return false
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readableBy reports, from mode bits, whether u can reach and read p (a
// resolved path): search permission on every directory above it, read on a
// file, read and search on a directory.
func readableBy(p string, u User) error {
	if u.UID == 0 {
		return nil
	}
	dir := filepath.Dir(p)
	var parents []string
	for ; ; dir = filepath.Dir(dir) {
		parents = append(parents, dir)
		if dir == "/" || dir == "." {
			break
		}
	}
	for _, d := range slices.Backward(parents) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("directory %s cannot be read", d)
		}
		if !allowed(fi, u, 1) {
			return fmt.Errorf("%s cannot enter the directory %s", u.Name, d)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		return fmt.Errorf("the image cannot be read")
	}
	need := uint32(4)
	if fi.IsDir() {
		need = 5
	}
	if !allowed(fi, u, need) {
		return fmt.Errorf("%s may not read the image", u.Name)
	}
	return nil
}

// allowed applies the kernel's owner/group/other rule for the bits in need
// (4 read, 2 write, 1 execute/search): only the first class that matches
// counts.
func allowed(fi fs.FileInfo, u User, need uint32) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	perm := uint32(fi.Mode().Perm())
	var bits uint32
	switch {
	case int(st.Uid) == u.UID:
		bits = perm >> 6
	case slices.Contains(u.GIDs, int(st.Gid)):
		bits = perm >> 3
	default:
		bits = perm
	}
	return bits&need == need
}
