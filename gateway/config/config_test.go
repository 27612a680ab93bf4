package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load(Sources{})
	if err != nil {
		t.Fatalf("defaults do not validate:\n%v", err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.Cluster.PollInterval != 3*time.Second || len(cfg.Flavors) != 4 {
		t.Fatalf("unexpected defaults: listen=%q poll=%s flavors=%d", cfg.Listen, cfg.Cluster.PollInterval, len(cfg.Flavors))
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9999\ncos:\n  bucket: from-file\n  endpoint: cos.example:9000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Sources{
		File:  file,
		Env:   []string{"BATCHGATE_COS_BUCKET=from-env", "BATCHGATE_CLUSTER_POLL_INTERVAL=7s", "BATCHGATE_DEV_DIR=/ignored", "PATH=/bin"},
		Flags: map[string]string{"cos.bucket": "from-flag", "images.dirs": "/a, /b"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:9999" || cfg.COS.Endpoint != "cos.example:9000" {
		t.Errorf("file not applied: %+v", cfg)
	}
	if cfg.COS.Bucket != "from-flag" {
		t.Errorf("bucket = %q, want the flag to win", cfg.COS.Bucket)
	}
	if cfg.Cluster.PollInterval != 7*time.Second {
		t.Errorf("poll interval = %s, want 7s from env", cfg.Cluster.PollInterval)
	}
	if strings.Join(cfg.Images.Dirs, "|") != "/a|/b" {
		t.Errorf("images.dirs = %q", cfg.Images.Dirs)
	}
	if len(cfg.Flavors) != 4 {
		t.Errorf("a site file without flavors keeps the default ones, got %d", len(cfg.Flavors))
	}
}

func TestBadValuesNameKeyValueAndWhatIsAccepted(t *testing.T) {
	cases := []struct {
		env  string
		want string
	}{
		{"BATCHGATE_CLUSTER_TIMEZONE=Mars/Base", `config: cluster.timezone = "Mars/Base": must be an IANA time zone name`},
		{"BATCHGATE_CLUSTER_SUBMIT_AS=su", `config: cluster.submit_as = "su": accepted: runuser, sudo, none`},
		{"BATCHGATE_LISTEN=8080", `config: listen = "8080": must be host:port`},
		{"BATCHGATE_CLUSTER_POLL_INTERVAL=soon", `config: cluster.poll_interval (from BATCHGATE_CLUSTER_POLL_INTERVAL) = "soon": not a duration`},
		{"BATCHGATE_COS_TLS=maybe", `config: cos.tls (from BATCHGATE_COS_TLS) = "maybe": not a boolean`},
		{"BATCHGATE_COS_BUCKET=Logs_Bucket", `config: cos.bucket = "Logs_Bucket": must be an S3 bucket name`},
	}
	for _, c := range cases {
		_, err := Load(Sources{Env: []string{c.env}})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to contain %q", c.env, err, c.want)
		}
		if err != nil && strings.Count(err.Error(), "\n") != 0 {
			t.Errorf("%s: one bad value must give one line, got:\n%v", c.env, err)
		}
	}
}

func TestFileProblems(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ body, want string }{
		{"listn: 1.2.3.4:80\n", "field listn not found"},
		{"flavors:\n  - name: Big GPU\n    cpus: 0\n    memory_mb: 1\n    partition: 'gpu #1'\n    time_limit: 1h\n    currency: usd\n", `flavors[0].name = "Big GPU"`},
	}
	for _, c := range cases {
		body, want := c.body, c.want
		file := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(Sources{File: file})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("file %q: error %v, want %q", body, err, want)
		}
	}
	// All of a flavor's problems (the last file written) are reported together.
	_, err := Load(Sources{File: filepath.Join(dir, "c.yaml")})
	for _, want := range []string{".cpus", ".partition", ".currency"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing problem %s in %v", want, err)
		}
	}
}

func TestLinesMaskSecrets(t *testing.T) {
	cfg, err := Load(Sources{Env: []string{"BATCHGATE_COS_SECRET_KEY=hunter2"}})
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Join(cfg.Lines(), "\n")
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "cos.secret_key = (set)") {
		t.Fatalf("secret not masked:\n%s", out)
	}
}
