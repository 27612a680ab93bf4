package integration

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestArchitectureArrows keeps the layout's arrows true (architecture.md): the domain imports no
// outside library, leaves never import the domain, and each outside library has one importer.
func TestArchitectureArrows(t *testing.T) {
	// deps lists pkg's dependencies outside the standard library.
	deps := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	imports := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	out, err := exec.Command("go", "list", "batchgate/...").Output()
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Fields(string(out))
	// The domain core: standard library only.
	for _, d := range depsIfPresent(all, "batchgate/gateway", deps) {
		if d != "batchgate/gateway" {
			t.Errorf("batchgate/gateway depends on %s; the domain imports the standard library only", d)
		}
	}
	if slices.Contains(imports("batchgate/gateway"), "os/exec") {
		t.Error("batchgate/gateway imports os/exec; only the slurm package runs Slurm's commands")
	}
	// Leaves never import the domain or each other.
	leaves := []string{"batchgate/slurm", "batchgate/apptainer", "batchgate/logship"}
	for _, leaf := range leaves {
		for _, d := range depsIfPresent(all, leaf, deps) {
			if strings.HasPrefix(d, "batchgate/") && d != leaf {
				t.Errorf("%s depends on %s; leaves import neither the domain nor each other", leaf, d)
			}
		}
	}
	// Each outside library is imported directly by its one owner only.
	owners := map[string]string{
		"github.com/gofiber/fiber/v2":      "batchgate/gateway/httpapi",
		"github.com/jmoiron/sqlx":          "batchgate/gateway/sqlite",
		"github.com/mattn/go-sqlite3":      "batchgate/gateway/sqlite",
		"github.com/minio/minio-go/v7":     "batchgate/logship",
		"github.com/hpcloud/tail":          "batchgate/logship",
		"github.com/sylabs/singularity/v4": "batchgate/apptainer",
	}
	for _, pkg := range all {
		for _, imp := range imports(pkg) {
			for lib, owner := range owners {
				if (imp == lib || strings.HasPrefix(imp, lib+"/")) && pkg != owner && !strings.HasPrefix(pkg, owner+"/") {
					t.Errorf("%s imports %s, which only %s may import", pkg, imp, owner)
				}
			}
		}
	}
}

// depsIfPresent returns pkg's dependencies, or nothing while the package has no Go files yet.
func depsIfPresent(all []string, pkg string, deps func(string) []string) []string {
	for _, p := range all {
		if p == pkg {
			return deps(pkg)
		}
	}
	return nil
}
