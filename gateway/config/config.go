// Package config reads batchgate's one configuration: the documented defaults (defaults.yaml,
// embedded), a site file, BATCHGATE_* environment variables and flags, in that order of precedence,
// and validates the result before anything starts.
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed defaults.yaml
var defaultsYAML []byte

// Defaults returns the documented default configuration file, byte for byte.
func Defaults() []byte { return bytes.Clone(defaultsYAML) }

// Config is the whole configuration of a batchgate process. Field tags name the key path used in
// files, environment variables and flags.
type Config struct {
	Listen          string        `yaml:"listen"`
	Database        string        `yaml:"database"`
	LogLevel        string        `yaml:"log_level"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	Cluster         Cluster       `yaml:"cluster"`
	HFS             HFS           `yaml:"hfs"`
	Images          Images        `yaml:"images"`
	COS             COS           `yaml:"cos"`
	Usage           Usage         `yaml:"usage"`
	Flavors         []Flavor      `yaml:"flavors" override:"-"`
}

// Cluster says how to reach Slurm and in which time zone the cluster lives.
type Cluster struct {
	Timezone       string        `yaml:"timezone"`
	SlurmConf      string        `yaml:"slurm_conf"`
	SlurmBin       string        `yaml:"slurm_bin"`
	SubmitAs       string        `yaml:"submit_as"`
	CommandTimeout time.Duration `yaml:"command_timeout"`
	PollInterval   time.Duration `yaml:"poll_interval"`
	SacctMaxWindow time.Duration `yaml:"sacct_max_window"`
}

// HFS holds the path templates of the shared file system.
type HFS struct {
	Home   string `yaml:"home"`
	Work   string `yaml:"work"`
	LogDir string `yaml:"log_dir"`
}

// Images configures the image catalog and the container runtime.
type Images struct {
	Dirs       []string `yaml:"dirs"`
	Apptainer  string   `yaml:"apptainer"`
	ExtraFlags []string `yaml:"extra_flags"`
}

// COS configures the S3-compatible object store that keeps task logs.
type COS struct {
	Endpoint      string `yaml:"endpoint"`
	AccessKey     string `yaml:"access_key"`
	SecretKey     string `yaml:"secret_key" secret:"true"`
	Bucket        string `yaml:"bucket"`
	Region        string `yaml:"region"`
	TLS           bool   `yaml:"tls"`
	RetentionDays int    `yaml:"retention_days"`
}

// Usage configures the usage ledger read from sacct and the prices of jobs from outside the
// gateway.
type Usage struct {
	Cluster         string        `yaml:"cluster"`
	PricePerGPUHour float64       `yaml:"price_per_gpu_hour"`
	PricePerCPUHour float64       `yaml:"price_per_cpu_hour"`
	Currency        string        `yaml:"currency"`
	IngestInterval  time.Duration `yaml:"ingest_interval"`
	Window          time.Duration `yaml:"window"`
	Overlap         time.Duration `yaml:"overlap"`
	Backfill        time.Duration `yaml:"backfill"`
	StepsPerTick    int           `yaml:"steps_per_tick"`
	MaxQueryRange   time.Duration `yaml:"max_query_range"`
}

// UsageCurrency is the currency of usage figures: usage.currency, or when empty the flavors'.
func (c Config) UsageCurrency() string {
	if c.Usage.Currency == "" && len(c.Flavors) > 0 {
		return c.Flavors[0].Currency
	}
	return c.Usage.Currency
}

// Flavor is one hardware size as the site configures it.
type Flavor struct {
	Name         string        `yaml:"name"`
	GPUs         int           `yaml:"gpus"`
	GPUType      string        `yaml:"gpu_type"`
	CPUs         int           `yaml:"cpus"`
	MemoryMB     int           `yaml:"memory_mb"`
	Partition    string        `yaml:"partition"`
	TimeLimit    time.Duration `yaml:"time_limit"`
	PricePerHour float64       `yaml:"price_per_hour"`
	Currency     string        `yaml:"currency"`
}

// Sources are the inputs Load layers over the defaults. Env is a list of KEY=VALUE (os.Environ());
// only BATCHGATE_* entries are read. Flags maps key paths ("cos.endpoint") to values.
type Sources struct {
	File  string
	Env   []string
	Flags map[string]string
}

// Load builds a Config from the defaults, then Sources.File, Env and Flags, and validates it.
// The error lists every problem, one per line, each naming the key, the value and what is accepted.
func Load(src Sources) (Config, error) {
	var cfg Config
	if err := decodeYAML(defaultsYAML, &cfg); err != nil {
		return Config{}, fmt.Errorf("config: built-in defaults: %w", err)
	}
	if src.File != "" {
		b, err := os.ReadFile(src.File)
		if err != nil {
			return Config{}, fmt.Errorf("config: read %s: %w", src.File, err)
		}
		// A site file replaces the flavor list as a whole rather than merging item by item.
		cfg.Flavors = nil
		if err := decodeYAML(b, &cfg); err != nil {
			return Config{}, fmt.Errorf("config: %s: %w", src.File, err)
		}
		if cfg.Flavors == nil {
			_ = decodeYAML(defaultsYAML, &struct {
				Flavors *[]Flavor `yaml:"flavors"`
			}{&cfg.Flavors})
		}
	}
	var problems []string
	for key, value := range envOverrides(src.Env) {
		if err := set(&cfg, key, value); err != nil {
			problems = append(problems, fmt.Sprintf("config: %s (from %s) = %q: %v", key, EnvName(key), value, err))
		}
	}
	for key, value := range src.Flags {
		if err := set(&cfg, key, value); err != nil {
			problems = append(problems, fmt.Sprintf("config: %s (from --%s) = %q: %v", key, key, value, err))
		}
	}
	problems = append(problems, cfg.Validate()...)
	if len(problems) > 0 {
		return Config{}, errors.New(strings.Join(problems, "\n"))
	}
	return cfg, nil
}

func decodeYAML(b []byte, into any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt key is an error, not a silently ignored line
	// An empty file decodes to io.EOF: it changes nothing.
	if err := dec.Decode(into); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// EnvName is the environment variable that overrides key ("cos.endpoint" -> BATCHGATE_COS_ENDPOINT).
func EnvName(key string) string {
	return "BATCHGATE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envOverrides returns the key paths named by BATCHGATE_* variables that match a known key.
// Other BATCHGATE_* variables (BATCHGATE_CONFIG, the dev cluster's own) are not configuration keys.
func envOverrides(env []string) map[string]string {
	byEnv := map[string]string{}
	for _, k := range Keys() {
		byEnv[EnvName(k)] = k
	}
	out := map[string]string{}
	for _, kv := range env {
		name, value, ok := strings.Cut(kv, "=")
		if key, known := byEnv[name]; ok && known {
			out[key] = value
		}
	}
	return out
}

// Location returns the cluster's time zone. Validate has already checked it loads.
func (c Cluster) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
