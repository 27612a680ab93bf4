package apptainer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// catalogOf500 lays out 500 SIFs (hard links to one built image where the
// file system allows, copies otherwise: every path is its own cache entry
// either way) and returns the directory.
func catalogOf500(b *testing.B) string {
	b.Helper()
	src := filepath.Join(fixtures(b), "tiny.sif")
	dir := b.TempDir()
	for i := range 500 {
		dst := filepath.Join(dir, fmt.Sprintf("image-%03d.sif", i))
		if err := os.Link(src, dst); err != nil {
			if err := copyFile(src, dst, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	return dir
}

func listAll(b *testing.B, c *Catalog) {
	imgs, err := c.List(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if len(imgs) != 500 {
		b.Fatalf("listed %d images, want 500", len(imgs))
	}
}

// BenchmarkCatalogListWarm500 lists a catalog of 500 unchanged SIFs whose
// metadata is cached (the target: under 20 ms).
func BenchmarkCatalogListWarm500(b *testing.B) {
	dir := catalogOf500(b)
	c, err := NewCatalog(CatalogConfig{Dirs: []string{dir}})
	if err != nil {
		b.Fatal(err)
	}
	listAll(b, c)
	b.ResetTimer()
	for b.Loop() {
		listAll(b, c)
	}
}

// BenchmarkCatalogFirstScan500 lists 500 SIFs with an empty cache, so every
// file is inspected (the target: under 2 s).
func BenchmarkCatalogFirstScan500(b *testing.B) {
	dir := catalogOf500(b)
	for b.Loop() {
		c, err := NewCatalog(CatalogConfig{Dirs: []string{dir}})
		if err != nil {
			b.Fatal(err)
		}
		listAll(b, c)
	}
}
