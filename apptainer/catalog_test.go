package apptainer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

func TestCatalogListReadsSIFMetadata(t *testing.T) {
	dir := t.TempDir()
	place(t, "tiny.sif", dir, "tiny.sif")
	place(t, "foreign.sif", dir, "foreign.sif")
	placeSandbox(t, dir, "sandy")
	place(t, "rootfs.sqfs", dir, "bare.sqsh")
	if err := os.WriteFile(filepath.Join(dir, "README.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".partial.sif"), []byte("SIF_MAGIC"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := NewCatalog(CatalogConfig{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Image{}
	for _, img := range imgs {
		got[img.Name] = img
	}
	if len(imgs) != 3 {
		t.Fatalf("List returned %d images %v, want bare, sandy, tiny", len(imgs), names(imgs))
	}
	tiny := got["tiny"]
	if tiny.Type != TypeSIF || tiny.Arch != runtime.GOARCH || tiny.Path != filepath.Join(dir, "tiny.sif") {
		t.Errorf("tiny = %+v", tiny)
	}
	if tiny.Labels["name"] != "tiny" || tiny.Labels["version"] != "1.0" || tiny.Labels["org.label-schema.build-size"] != "7" {
		t.Errorf("tiny labels = %v", tiny.Labels)
	}
	if tiny.Definition != testDefinition {
		t.Errorf("tiny definition = %q", tiny.Definition)
	}
	if !tiny.Created.Equal(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)) || tiny.Size == 0 || tiny.ModTime.IsZero() {
		t.Errorf("tiny created/size/mtime = %v %d %v", tiny.Created, tiny.Size, tiny.ModTime)
	}
	if got["sandy"].Type != TypeSandbox || got["bare"].Type != TypeSquashFS {
		t.Errorf("sandy = %+v, bare = %+v", got["sandy"], got["bare"])
	}
	if _, err := c.Lookup(context.Background(), "foreign"); !errors.Is(err, ErrWrongArch) {
		t.Errorf("Lookup(foreign) = %v, want ErrWrongArch", err)
	}
	if _, err := c.Lookup(context.Background(), "README.txt"); !errors.Is(err, ErrNotImage) {
		t.Errorf("Lookup(README.txt) = %v, want ErrNotImage", err)
	}
	_, err = c.Lookup(context.Background(), "nope")
	var ie *ImageError
	if !errors.Is(err, ErrImageNotFound) || !errors.As(err, &ie) || ie.Code != CodeNotFound {
		t.Errorf("Lookup(nope) = %v, want ImageError not_found", err)
	}
}

func TestCatalogForeignArchConfigured(t *testing.T) {
	dir := t.TempDir()
	place(t, "tiny.sif", dir, "tiny.sif")
	place(t, "foreign.sif", dir, "foreign.sif")
	c, err := NewCatalog(CatalogConfig{Dirs: []string{dir}, Arch: foreignArch()})
	if err != nil {
		t.Fatal(err)
	}
	imgs, err := c.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Name != "foreign" || imgs[0].Arch != foreignArch() {
		t.Fatalf("List on a %s cluster = %v", foreignArch(), imgs)
	}
}

func TestCatalogCacheNoticesChanges(t *testing.T) {
	dir := t.TempDir()
	p := place(t, "tiny.sif", dir, "a.sif")
	c, err := NewCatalog(CatalogConfig{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if imgs, err := c.List(ctx); err != nil || len(imgs) != 1 {
		t.Fatalf("first List = %v, %v", imgs, err)
	}
	// Poison the cached entry: a warm listing must serve it unchanged,
	// proving the file was not read again.
	c.mu.Lock()
	e := c.cache[p]
	e.img.Labels = map[string]string{"cached": "yes"}
	c.cache[p] = e
	c.mu.Unlock()
	imgs, err := c.List(ctx)
	if err != nil || imgs[0].Labels["cached"] != "yes" {
		t.Fatalf("warm List re-read an unchanged file: %v %v", imgs, err)
	}
	// A new file appears without a restart.
	place(t, "tiny.sif", dir, "b.sif")
	// A changed file (new mtime) is read again.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	imgs, err = c.List(ctx)
	if err != nil || len(imgs) != 2 {
		t.Fatalf("List after adding b.sif = %v, %v", names(imgs), err)
	}
	if imgs[0].Labels["cached"] != "" || imgs[0].Labels["name"] != "tiny" {
		t.Errorf("changed a.sif served from cache: %v", imgs[0].Labels)
	}
	// A removed file disappears, and leaves the cache.
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if imgs, err = c.List(ctx); err != nil || len(imgs) != 1 || imgs[0].Name != "b" {
		t.Fatalf("List after removing a.sif = %v, %v", names(imgs), err)
	}
	if _, ok := c.cache[p]; ok {
		t.Error("removed file still cached")
	}
}

func TestCatalogFirstDirWins(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	place(t, "tiny.sif", d1, "x.sif")
	place(t, "tiny.sif", d2, "x.sif")
	c, err := NewCatalog(CatalogConfig{Dirs: []string{d1, d2}})
	if err != nil {
		t.Fatal(err)
	}
	img, err := c.Lookup(context.Background(), "x")
	if err != nil || img.Path != filepath.Join(d1, "x.sif") {
		t.Fatalf("Lookup(x) = %v, %v; want the copy in %s", img.Path, err, d1)
	}
}

func TestNewCatalogRejectsBadConfig(t *testing.T) {
	if _, err := NewCatalog(CatalogConfig{}); err == nil {
		t.Error("no dirs accepted")
	}
	if _, err := NewCatalog(CatalogConfig{Dirs: []string{"images"}}); err == nil {
		t.Error("relative dir accepted")
	}
	c, err := NewCatalog(CatalogConfig{Dirs: []string{"/nonexistent/images"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.List(context.Background()); err == nil {
		t.Error("List of a missing dir succeeded")
	}
}

func names(imgs []Image) []string {
	var n []string
	for _, i := range imgs {
		n = append(n, i.Name)
	}
	return n
}

func TestCatalogConcurrentUse(t *testing.T) {
	dir := t.TempDir()
	place(t, "tiny.sif", dir, "a.sif")
	place(t, "tiny.sif", dir, "b.sif")
	c, err := NewCatalog(CatalogConfig{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			imgs, err := c.List(context.Background())
			if err == nil && len(imgs) != 2 {
				err = errors.New("wrong count")
			}
			if err == nil {
				_, err = c.Lookup(context.Background(), "a")
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
