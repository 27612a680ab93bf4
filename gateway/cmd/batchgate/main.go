// Command batchgate is the Slurm-backed batch gateway: one binary with subcommands.
//
//	batchgate serve [--config FILE] [--KEY=VALUE ...]   run the HTTP gateway
//	batchgate config [--config FILE] [--defaults]       print the effective (or default) configuration
//	batchgate admin OBJECT VERB ...                     projects, users, memberships, tokens
//	batchgate script [--file SPEC] [--image ...] ...    the sbatch script for a container spec
//	batchgate usage [--project P] [--from D] [--to D] [--by user|day|...] [--csv]
//	batchgate version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"batchgate/gateway/config"
	"batchgate/gateway/daemon"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var usage usageError
		if !errors.As(err, &usage) {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(2)
	}
}

// usageError has already been reported by the flag package.
type usageError struct{ error }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return usageError{errors.New("no subcommand")}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "config":
		return printConfig(args[1:], stdout, stderr)
	case "admin":
		return admin(ctx, args[1:], stdout, stderr)
	case "script":
		return scriptCmd(ctx, args[1:], stdout, stderr)
	case "usage":
		return usageCmd(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "batchgate", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	default:
		fmt.Fprint(stderr, usageText)
		return fmt.Errorf("batchgate: unknown subcommand %q", args[0])
	}
}

const usageText = `usage: batchgate <command> [flags]

commands:
  serve     run the HTTP gateway (see: batchgate config --defaults for every setting)
  config    print the effective configuration; --defaults prints the documented default file
  admin     manage projects, users, memberships and tokens (batchgate admin for details)
  script    print the exact sbatch script for a container spec (flags or --file), no gateway needed
  usage     GPU hours, CPU hours and cost from the ledger: --project P --from D --to D [--by user|day] [--csv]
  version   print the version
`

// loadConfig parses --config and one --KEY=VALUE flag per configuration key, then loads the
// configuration from defaults, file, environment and flags.
func loadConfig(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (config.Config, error) {
	fs := flag.NewFlagSet("batchgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", os.Getenv("BATCHGATE_CONFIG"), "configuration `file` (also BATCHGATE_CONFIG)")
	overrides := map[string]string{}
	for _, key := range config.Keys() {
		fs.Func(key, "override "+key+" (also "+config.EnvName(key)+")", func(v string) error {
			overrides[key] = v
			return nil
		})
	}
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return config.Config{}, usageError{err}
	}
	if fs.NArg() > 0 {
		return config.Config{}, fmt.Errorf("batchgate %s: unexpected arguments: %s", name, strings.Join(fs.Args(), " "))
	}
	return config.Load(config.Sources{File: *file, Env: os.Environ(), Flags: overrides})
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := loadConfig("serve", args, stderr, nil)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: levelOf(cfg.LogLevel)}))
	d, err := daemon.New(ctx, cfg, log)
	if err != nil {
		return fmt.Errorf("batchgate serve: %w", err)
	}
	defer d.Close()
	return d.Run(ctx)
}

func printConfig(args []string, stdout, stderr io.Writer) error {
	var defaults bool
	cfg, err := loadConfig("config", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&defaults, "defaults", false, "print the documented default configuration file")
	})
	if defaults {
		_, werr := stdout.Write(config.Defaults())
		return werr
	}
	if err != nil {
		return err
	}
	for _, line := range cfg.Lines() {
		fmt.Fprintln(stdout, line)
	}
	return nil
}

func levelOf(s string) slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(s)) // validated by config
	return l
}
