package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeSpec(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpecFromFileReadsJSONAndYAML(t *testing.T) {
	for name, body := range map[string]string{
		"spec.json": `{"project": "vision", "image": "busybox", "flavor": "gpu-1", "command": "nvidia-smi",
			"env": [{"name": "SEED", "value": "7"}], "schedule": {"kind": "now"}}`,
		"spec.yaml": "project: vision\nimage: busybox\nflavor: gpu-1\ncommand: nvidia-smi\n" +
			"env:\n  - name: SEED\n    value: \"7\"\nschedule:\n  kind: now\n",
	} {
		spec, err := specFromFile(writeSpec(t, name, body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if spec.Project != "vision" || spec.Image != "busybox" || spec.Flavor != "gpu-1" || spec.Command != "nvidia-smi" ||
			len(spec.Env) != 1 || spec.Env[0].Name != "SEED" || spec.Env[0].Value != "7" || spec.Schedule.Kind != "now" {
			t.Errorf("%s: got %+v", name, spec)
		}
	}
}

// TestSpecFromFileRefusesWhatTheAPIRefuses: encoding/json alone would take "Image" for "image";
// the API refuses it, and so must the CLI, naming the field and the names it takes.
func TestSpecFromFileRefusesWhatTheAPIRefuses(t *testing.T) {
	for _, c := range []struct{ name, body, field, accepted string }{
		{"cased.json", `{"project": "vision", "Image": "busybox"}`, `Image: is not a known field`, "project, name, image, flavor"},
		{"cased.yaml", "project: vision\nimage: busybox\nschedule:\n  Kind: now\n", `schedule.Kind: is not a known field`, "kind, at"},
		{"unknown.yaml", "project: vision\ngpus: 2\n", `gpus: is not a known field`, "project, name, image, flavor"},
		{"unknown.json", `{"env": [{"name": "A", "value": "1", "secret": true}]}`, `env[0].secret: is not a known field`, "name, value"},
	} {
		_, err := specFromFile(writeSpec(t, c.name, c.body))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, c.field) || !strings.Contains(msg, c.accepted) || !strings.Contains(msg, c.name) {
			t.Errorf("%s: error %q does not name the file, the field %q and the names %q", c.name, msg, c.field, c.accepted)
		}
	}
}
