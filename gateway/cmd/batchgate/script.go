package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"batchgate/gateway"
	"batchgate/gateway/daemon"
	"batchgate/gateway/strictjson"
)

// scriptCmd prints the sbatch script the gateway would submit for a container spec, from flags or
// a JSON/YAML file, without a running gateway: the same validation and renderer as a real start.
//
//	batchgate script --project vision --image busybox --flavor gpu-1 --command 'python train.py'
//	batchgate script --file spec.yaml > job.sbatch && TZ=UTC sbatch job.sbatch
func scriptCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var spec gateway.ContainerSpec
	var file, at, asUser string
	var env envFlags
	cfg, err := loadConfig("script", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "file", "", "container spec as JSON or YAML (the API's create body); flags below override it")
		fs.StringVar(&spec.Project, "project", "", "project (Slurm account)")
		fs.StringVar(&spec.Name, "name", "", "container name (default: script)")
		fs.StringVar(&spec.Image, "image", "", "catalog image name or a path in your HFS directories")
		fs.StringVar(&spec.Flavor, "flavor", "", "flavor name (batchgate config lists them)")
		fs.StringVar(&spec.Command, "command", "", "command, run by /bin/sh -c inside the container")
		fs.Var(&env, "env", "NAME=VALUE environment variable (repeatable)")
		fs.StringVar(&at, "at", "", "scheduled whole hour: RFC 3339, or YYYY-MM-DDTHH:00 in the cluster's zone (default: manual)")
		fs.StringVar(&asUser, "user", "", "Unix login the job runs as (default: you)")
	})
	if err != nil {
		return err
	}
	merged, err := specFromFile(file)
	if err != nil {
		return err
	}
	overlay(&merged, spec, env)
	if merged.Name == "" {
		merged.Name = "script"
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			if t, err = gateway.ParseLocalHour(at, cfg.Cluster.Location()); err != nil {
				return fmt.Errorf("batchgate script: --at: %w", err)
			}
		}
		merged.Schedule = gateway.Schedule{Kind: gateway.ScheduleAt, At: &t}
	}
	if asUser == "" {
		u, err := user.Current()
		if err != nil {
			return fmt.Errorf("batchgate script: who are you? %w (give --user)", err)
		}
		asUser = u.Username
	}
	svc, err := daemon.NewScriptService(cfg, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return fmt.Errorf("batchgate script: %w", err)
	}
	p := gateway.Principal{User: asUser, Projects: map[string]gateway.Role{merged.Project: gateway.RoleMember}}
	script, err := svc.PreviewScript(ctx, p, merged)
	if err != nil {
		return fmt.Errorf("batchgate script: %s", describe(err))
	}
	_, err = io.WriteString(stdout, script)
	return err
}

// specFromFile reads a spec in JSON or YAML by the API's rules (strictjson): unknown or
// wrongly-cased field names are refused, naming the field and the names accepted there.
func specFromFile(path string) (gateway.ContainerSpec, error) {
	var spec gateway.ContainerSpec
	if path == "" {
		return spec, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return spec, fmt.Errorf("batchgate script: %w", err)
	}
	// YAML is a superset of JSON: read it generically, then decode strictly through JSON so both
	// forms have the API's field names and rules.
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return spec, fmt.Errorf("batchgate script: %s: %w", path, err)
	}
	j, err := json.Marshal(doc)
	if err != nil {
		return spec, fmt.Errorf("batchgate script: %s: %w", path, err)
	}
	if err := strictjson.Decode(j, &spec); err != nil {
		return spec, fmt.Errorf("batchgate script: %s: %w", path, err)
	}
	return spec, nil
}

// overlay sets the fields given as flags over the file's.
func overlay(dst *gateway.ContainerSpec, flags gateway.ContainerSpec, env envFlags) {
	for _, kv := range []struct {
		dst *string
		v   string
	}{
		{&dst.Project, flags.Project}, {&dst.Name, flags.Name}, {&dst.Image, flags.Image},
		{&dst.Flavor, flags.Flavor}, {&dst.Command, flags.Command},
	} {
		if kv.v != "" {
			*kv.dst = kv.v
		}
	}
	dst.Env = append(dst.Env, env...)
}

// describe renders a domain error with its field problems, one per line.
func describe(err error) string {
	var e *gateway.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err.Error()
	}
	lines := []string{e.Message + ":"}
	for _, f := range e.Fields {
		lines = append(lines, "  "+f.Field+": "+f.Detail)
	}
	return strings.Join(lines, "\n")
}

// envFlags collects repeated --env NAME=VALUE flags.
type envFlags []gateway.EnvVar

func (e *envFlags) String() string { return fmt.Sprint(*e) }

func (e *envFlags) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want NAME=VALUE")
	}
	*e = append(*e, gateway.EnvVar{Name: name, Value: value})
	return nil
}
