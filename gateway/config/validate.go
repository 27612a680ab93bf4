package config

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// nameRE is what a flavor name may be: it appears in URLs, CLI flags and job names.
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// slurmWordRE is what may stand in a Slurm directive value (partition, GPU type): no spaces,
// no '#', nothing the shell or sbatch's directive parser would read differently.
var slurmWordRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// bucketRE is the S3 bucket naming rule: 3-63 lower-case letters, digits, dots and hyphens.
var bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

// Validate returns one line per problem, each naming the key, the value and what is accepted.
// An empty result means the configuration can start.
func (c Config) Validate() []string {
	var p problems
	if err := checkHostPort(c.Listen); err != nil {
		p.add("listen", c.Listen, err.Error())
	}
	if c.Database == "" {
		p.add("database", c.Database, "must be the path of the SQLite file (e.g. /var/lib/batchgate/batchgate.db)")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.add("log_level", c.LogLevel, "accepted: debug, info, warn, error")
	}
	p.positive("shutdown_timeout", c.ShutdownTimeout)
	c.Cluster.validate(&p)
	c.HFS.validate(&p)
	if len(c.Images.Dirs) == 0 {
		p.add("images.dirs", "[]", "name at least one directory of site images")
	}
	for _, d := range c.Images.Dirs {
		if !filepath.IsAbs(d) {
			p.add("images.dirs", d, "must be an absolute path")
		}
	}
	if c.Images.Apptainer == "" {
		p.add("images.apptainer", "", "must name the apptainer binary (e.g. apptainer or /usr/bin/apptainer)")
	}
	c.COS.validate(&p)
	validateFlavors(c.Flavors, &p)
	c.validateUsage(&p)
	return p
}

func (c Config) validateUsage(p *problems) {
	u := c.Usage
	if !slurmWordRE.MatchString(u.Cluster) {
		p.add("usage.cluster", u.Cluster, "must name the Slurm cluster (its ClusterName): letters, digits, '.', '_' or '-'")
	}
	for key, v := range map[string]float64{"usage.price_per_gpu_hour": u.PricePerGPUHour, "usage.price_per_cpu_hour": u.PricePerCPUHour} {
		if v < 0 {
			p.add(key, fmt.Sprint(v), "must be 0 or more")
		}
	}
	cur := c.UsageCurrency()
	if u.Currency != "" && (len(u.Currency) != 3 || strings.ToUpper(u.Currency) != u.Currency) {
		p.add("usage.currency", u.Currency, "must be a 3-letter ISO 4217 code (e.g. USD, TWD) or empty (the flavors' currency)")
	}
	for i, f := range c.Flavors {
		if f.Currency != cur {
			p.add(fmt.Sprintf("flavors[%d].currency", i), f.Currency, "must be the usage currency "+cur+": usage figures add up costs of all flavors")
		}
	}
	p.positive("usage.ingest_interval", u.IngestInterval)
	if u.Window < time.Minute {
		p.add("usage.window", u.Window.String(), "must be at least 1m")
	}
	if u.Overlap < 0 {
		p.add("usage.overlap", u.Overlap.String(), "must be 0 or a positive duration")
	}
	p.positive("usage.backfill", u.Backfill)
	if u.StepsPerTick < 1 {
		p.add("usage.steps_per_tick", fmt.Sprint(u.StepsPerTick), "must be 1 or more")
	}
	if u.MaxQueryRange < 24*time.Hour {
		p.add("usage.max_query_range", u.MaxQueryRange.String(), "must be at least 24h")
	}
}

func (c Cluster) validate(p *problems) {
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" || c.Timezone == "Local" {
		p.add("cluster.timezone", c.Timezone, "must be an IANA time zone name (e.g. UTC, Europe/Berlin, Asia/Taipei)")
	}
	switch c.SubmitAs {
	case "runuser", "sudo", "none":
	default:
		p.add("cluster.submit_as", c.SubmitAs, "accepted: runuser, sudo, none")
	}
	if c.SlurmConf != "" && !filepath.IsAbs(c.SlurmConf) {
		p.add("cluster.slurm_conf", c.SlurmConf, "must be an absolute path or empty")
	}
	if c.SlurmBin != "" && !filepath.IsAbs(c.SlurmBin) {
		p.add("cluster.slurm_bin", c.SlurmBin, "must be an absolute directory or empty (PATH)")
	}
	p.positive("cluster.command_timeout", c.CommandTimeout)
	p.positive("cluster.poll_interval", c.PollInterval)
	if c.SacctMaxWindow < time.Hour {
		p.add("cluster.sacct_max_window", c.SacctMaxWindow.String(), "must be at least 1h")
	}
}

func (h HFS) validate(p *problems) {
	for key, tmpl := range map[string]string{"hfs.home": h.Home, "hfs.work": h.Work} {
		if !filepath.IsAbs(tmpl) || !strings.Contains(tmpl, "{user}") {
			p.add(key, tmpl, "must be an absolute path template containing {user} (e.g. /hfs/home/{user})")
		}
	}
	if !strings.HasPrefix(h.LogDir, "{work}") {
		p.add("hfs.log_dir", h.LogDir, "must start with {work}: logs live in the owner's work directory")
	}
}

func (c COS) validate(p *problems) {
	if err := checkHostPort(c.Endpoint); err != nil {
		p.add("cos.endpoint", c.Endpoint, err.Error()+" (no scheme; use cos.tls for HTTPS)")
	}
	if !bucketRE.MatchString(c.Bucket) {
		p.add("cos.bucket", c.Bucket, "must be an S3 bucket name: 3-63 lower-case letters, digits, '.' or '-'")
	}
	if c.RetentionDays < 0 {
		p.add("cos.retention_days", strconv.Itoa(c.RetentionDays), "must be 0 (keep forever) or a number of days")
	}
}

func validateFlavors(flavors []Flavor, p *problems) {
	if len(flavors) == 0 {
		p.add("flavors", "[]", "configure at least one flavor")
	}
	seen := map[string]bool{}
	for i, f := range flavors {
		key := fmt.Sprintf("flavors[%d]", i)
		if !nameRE.MatchString(f.Name) {
			p.add(key+".name", f.Name, "must be 1-63 lower-case letters, digits, '.', '_' or '-'")
		}
		if seen[f.Name] {
			p.add(key+".name", f.Name, "is used by an earlier flavor; names must be unique")
		}
		seen[f.Name] = true
		if f.GPUs < 0 {
			p.add(key+".gpus", strconv.Itoa(f.GPUs), "must be 0 or more")
		}
		if f.GPUType != "" && !slurmWordRE.MatchString(f.GPUType) {
			p.add(key+".gpu_type", f.GPUType, "must be letters, digits, '.', '_' or '-' (as in gres.conf)")
		}
		if f.CPUs < 1 {
			p.add(key+".cpus", strconv.Itoa(f.CPUs), "must be 1 or more")
		}
		if f.MemoryMB < 1 {
			p.add(key+".memory_mb", strconv.Itoa(f.MemoryMB), "must be 1 or more")
		}
		if !slurmWordRE.MatchString(f.Partition) {
			p.add(key+".partition", f.Partition, "must be a Slurm partition name")
		}
		if f.TimeLimit < time.Minute {
			p.add(key+".time_limit", f.TimeLimit.String(), "must be at least 1m")
		}
		if f.PricePerHour < 0 {
			p.add(key+".price_per_hour", fmt.Sprint(f.PricePerHour), "must be 0 or more")
		}
		if len(f.Currency) != 3 || strings.ToUpper(f.Currency) != f.Currency {
			p.add(key+".currency", f.Currency, "must be a 3-letter ISO 4217 code (e.g. USD, TWD)")
		}
	}
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("must be host:port (e.g. 127.0.0.1:8080)")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be 0-65535")
	}
	return nil
}

// problems collects validation failures in the one-line form start-up prints.
type problems []string

func (p *problems) add(key, value, accepted string) {
	*p = append(*p, fmt.Sprintf("config: %s = %q: %s", key, value, accepted))
}

func (p *problems) positive(key string, d time.Duration) {
	if d <= 0 {
		p.add(key, d.String(), "must be a positive duration (e.g. 30s)")
	}
}
