package apptainer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// CatalogConfig configures the site image catalog.
type CatalogConfig struct {
	// Dirs are the site image directories, absolute, scanned in order and
	// not recursively. Earlier directories win when names collide.
	Dirs []string
	// Arch is the compute nodes' Go architecture name (default
	// runtime.GOARCH). Images built for another one are refused.
	Arch string
}

// Catalog lists the site's images. It caches what it learnt about each file by
// path, size and modification time, so a warm listing only reads directories
// and stats files, while a new or replaced file is inspected on the next call.
// A Catalog is safe for concurrent use.
type Catalog struct {
	dirs []string
	arch string

	mu    sync.Mutex
	cache map[string]cacheEntry // by catalog path (before symlinks are resolved)
}

type cacheEntry struct {
	size  int64
	mtime time.Time
	img   Image
	err   error // why the file is not a usable image, or nil
}

// NewCatalog returns a catalog of cfg.Dirs. It returns an error if no
// directory is given or one is not an absolute path; directories are read on
// each List, so one that is missing then makes List fail, not NewCatalog.
func NewCatalog(cfg CatalogConfig) (*Catalog, error) {
	if len(cfg.Dirs) == 0 {
		return nil, errors.New("apptainer catalog: no image directories configured")
	}
	dirs := make([]string, 0, len(cfg.Dirs))
	for _, d := range cfg.Dirs {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("apptainer catalog: image directory %q is not an absolute path", d)
		}
		dirs = append(dirs, filepath.Clean(d))
	}
	arch := cfg.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	return &Catalog{dirs: dirs, arch: arch, cache: map[string]cacheEntry{}}, nil
}

// List returns the usable images of the catalog sorted by name, one per name.
// Files that are not images, or are built for another architecture, are left
// out (Lookup says why). It returns an error if a directory cannot be read or
// ctx ends.
func (c *Catalog) List(ctx context.Context) ([]Image, error) {
	entries, err := c.scan(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Image
	for _, e := range entries {
		if e.err != nil || !c.archOK(e.img) || seen[e.img.Name] {
			continue
		}
		seen[e.img.Name] = true
		out = append(out, cloneImage(e.img))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup returns the catalog image called name (see the package doc for how
// names are derived). It returns an *ImageError matching ErrImageNotFound if
// there is no such name, ErrNotImage if the file is damaged, and ErrWrongArch
// if it was built for another architecture.
func (c *Catalog) Lookup(ctx context.Context, name string) (Image, error) {
	if name == "" || strings.ContainsRune(name, '/') {
		return Image{}, refuse(name, CodeInvalidRef, "a catalog image name cannot be empty or contain '/'")
	}
	entries, err := c.scan(ctx)
	if err != nil {
		return Image{}, err
	}
	var first *cacheEntry
	for i := range entries {
		e := &entries[i]
		if e.img.Name != name {
			continue
		}
		if e.err == nil && c.archOK(e.img) {
			return cloneImage(e.img), nil
		}
		if first == nil {
			first = e
		}
	}
	switch {
	case first == nil:
		return Image{}, refuse(name, CodeNotFound, "there is no image named %q in the site catalog", name)
	case first.err != nil:
		return Image{}, refuse(name, CodeNotImage, "the site image %q is not usable (%v); ask the site administrators", name, first.err)
	default:
		return Image{}, c.wrongArch(name, first.img)
	}
}

func (c *Catalog) archOK(img Image) bool { return img.Arch == "" || img.Arch == c.arch }

func (c *Catalog) wrongArch(ref string, img Image) *ImageError {
	return refuse(ref, CodeWrongArch, "the image is built for %s but the cluster runs %s", img.Arch, c.arch)
}

// scan walks the directories and returns one entry per candidate, in
// directory order then file name order, refreshing the cache.
func (c *Catalog) scan(ctx context.Context) ([]cacheEntry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fresh := make(map[string]cacheEntry, len(c.cache))
	var out []cacheEntry
	for _, dir := range c.dirs {
		des, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read image directory: %w", err)
		}
		for _, de := range des {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("scan image directory: %w", err)
			}
			// Dot files are skipped: copies in progress (rsync, cp --backup)
			// hide there until they are complete.
			if strings.HasPrefix(de.Name(), ".") {
				continue
			}
			p := filepath.Join(dir, de.Name())
			e, ok := c.entry(p)
			if !ok {
				continue
			}
			fresh[p] = e
			out = append(out, e)
		}
	}
	c.cache = fresh
	return out, nil
}

// entry returns the cached entry for p when its size and mtime are unchanged,
// or inspects it. ok is false for things that are not candidates at all
// (dangling symlinks, sockets ...).
func (c *Catalog) entry(p string) (cacheEntry, bool) {
	fi, err := os.Stat(p)
	if err != nil || !(fi.IsDir() || fi.Mode().IsRegular()) {
		return cacheEntry{}, false
	}
	if e, hit := c.cache[p]; hit && e.size == fi.Size() && e.mtime.Equal(fi.ModTime()) {
		return e, true
	}
	e := cacheEntry{size: fi.Size(), mtime: fi.ModTime()}
	resolved, err := filepath.EvalSymlinks(p)
	if err == nil {
		e.img, err = inspect(resolved, fi)
	}
	e.img.Name = catalogName(filepath.Base(p), fi.IsDir())
	e.err = err
	return e, true
}

func cloneImage(img Image) Image {
	labels := make(map[string]string, len(img.Labels))
	for k, v := range img.Labels {
		labels[k] = v
	}
	img.Labels = labels
	return img
}
