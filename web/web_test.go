package web

import (
	"io/fs"
	"path"
	"regexp"
	"strings"
	"testing"
)

var (
	importRE = regexp.MustCompile(`(?m)^\s*import\s+(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]`)
	refRE    = regexp.MustCompile(`(?:src|href)="(/[^"]*)"`)
	remoteRE = regexp.MustCompile(`(?i)(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}/`)
)

// TestAssetsResolve: every module import and every page reference names an embedded file, and
// nothing is fetched from another origin (the console must work with no network).
func TestAssetsResolve(t *testing.T) {
	assets := Assets()
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		t.Fatalf("index.html: %v", err)
	}
	for _, m := range refRE.FindAllStringSubmatch(string(index), -1) {
		if _, err := fs.Stat(assets, strings.TrimPrefix(m[1], "/")); err != nil && m[1] != "/" {
			t.Errorf("index.html refers to %s: %v", m[1], err)
		}
	}
	modules := 0
	err = fs.WalkDir(assets, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assets, name)
		if err != nil {
			return err
		}
		if m := remoteRE.FindString(string(body)); m != "" && !strings.Contains(m, "www.w3.org/") {
			t.Errorf("%s refers to another origin: %s", name, m)
		}
		if path.Ext(name) != ".js" {
			return nil
		}
		modules++
		for _, m := range importRE.FindAllStringSubmatch(string(body), -1) {
			target := path.Join(path.Dir(name), m[1])
			if !strings.HasPrefix(m[1], ".") {
				t.Errorf("%s imports %q: only relative imports of embedded modules are allowed", name, m[1])
			} else if _, err := fs.Stat(assets, target); err != nil {
				t.Errorf("%s imports %s: %v", name, m[1], err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if modules < 8 {
		t.Errorf("found %d modules, want the app, api, sse, ui and the pages", modules)
	}
}
