// Command bench runs every benchmark of batchgate against the dev cluster and prints one table:
// for each figure, batchgate's value, a baseline measured in the same run (bare sbatch, slurmrestd,
// squeue, sacct, a plain PutObject), their ratio and the target from the issues. It writes the same
// figures as JSON. Run it through `make bench`, which brings the dev cluster up and exports its
// environment; every job it submits is cancelled before it exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the bench's flags.
type options struct {
	duration    time.Duration // the create+start load phase
	clients     int           // concurrent create+start clients
	subscribers int           // SSE subscribers during the load phase
	containers  int           // containers seeded for the list and RSS figures
	listClients int           // concurrent keep-alive clients of the list figure
	samples     int           // samples of each submit-path figure
	out         string        // the JSON file
	skipGo      bool          // skip the `go test -bench` figures
	only        string        // run only these steps (comma-separated names), "" for all
	cpuProfile  string        // write a CPU profile of the bench process (gateway included) here
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "length of the create+start load phase")
	flag.IntVar(&o.clients, "clients", 500, "concurrent clients creating and starting containers in the load phase")
	flag.IntVar(&o.subscribers, "subscribers", 1000, "SSE subscribers connected during the load phase")
	flag.IntVar(&o.containers, "containers", 10000, "containers seeded for the list and RSS figures")
	flag.IntVar(&o.listClients, "list-clients", 32, "concurrent keep-alive clients of the list figure")
	flag.IntVar(&o.samples, "samples", 25, "samples of each submit figure (each side)")
	flag.StringVar(&o.out, "json", "bench-results.json", "where the JSON results go")
	flag.BoolVar(&o.skipGo, "skip-go-bench", false, "skip the figures taken from `go test -bench`")
	flag.StringVar(&o.only, "only", "", "run only these steps, comma-separated (e.g. \"list page,create+start\")")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the bench process, in-process gateway included, to this file")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	for _, v := range []string{"SLURM_CONF", "BATCHGATE_HFS_ROOT", "BATCHGATE_COS_ENDPOINT"} {
		if os.Getenv(v) == "" {
			return fmt.Errorf("%s is not set: run `make bench` (or eval \"$(scripts/devcluster env)\" first)", v)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "batchgate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	b := &bench{opts: o, dir: dir, log: slog.New(slog.NewTextHandler(os.Stderr, nil)), jobs: map[string]bool{}}
	start := time.Now()
	defer b.cleanup()
	gwLog, err := filepath.Abs(filepath.Join(filepath.Dir(o.out), "bench-gateway.log"))
	if err != nil {
		return err
	}
	if b.gw, err = startGateway(ctx, filepath.Join(dir, "gateway"), gwLog); err != nil {
		return fmt.Errorf("start the gateway: %w", err)
	}
	steps, err := b.selectSteps()
	if err != nil {
		return err
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	for _, s := range steps {
		if ctx.Err() != nil {
			break
		}
		b.log.Info("bench step", "step", s.name)
		t0 := time.Now()
		if err := s.run(ctx); err != nil {
			b.log.Error("bench step failed", "step", s.name, "err", err)
			b.add(Figure{Group: s.name, Name: s.name + ": step failed", Note: err.Error(), Pass: ptr(false)})
		}
		b.log.Info("bench step done", "step", s.name, "took", time.Since(t0).Round(time.Millisecond))
	}
	b.cleanup()
	rep := Report{At: start.UTC(), Took: time.Since(start).Round(time.Second).String(), Options: o.describe(), Figures: b.figures}
	rep.print(os.Stdout)
	if err := rep.write(o.out); err != nil {
		return err
	}
	abs, _ := filepath.Abs(o.out)
	fmt.Printf("\nJSON: %s\ngateway warnings and errors: %s\n", abs, gwLog)
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	if n := rep.failed(); n > 0 {
		return fmt.Errorf("%d figure(s) missed their target or failed", n)
	}
	return nil
}

// step is one part of the bench; it adds its figures to b.
type step struct {
	name string
	run  func(ctx context.Context) error
}

func (b *bench) steps() []step {
	s := []step{}
	if !b.opts.skipGo {
		s = append(s, step{"go benchmarks", b.goBenchmarks})
	}
	return append(s,
		step{"submit path", b.submitPath},
		step{"create+start", b.createStart},
		step{"log shipping lag", b.logLag},
		step{"list page", b.listPage},
		step{"sse subscribers", b.sseSlurmCalls},
		step{"gateway rss", b.gatewayRSS},
		step{"load", b.load},
		step{"poll and sacct", b.pollAndSacct},
		step{"usage", b.usage},
	)
}

// selectSteps is b.steps() narrowed to -only's names; an unknown name is an error listing the
// known ones.
func (b *bench) selectSteps() ([]step, error) {
	all := b.steps()
	if b.opts.only == "" {
		return all, nil
	}
	byName := map[string]step{}
	var names []string
	for _, s := range all {
		byName[s.name] = s
		names = append(names, strconv.Quote(s.name))
	}
	var picked []step
	for _, name := range strings.Split(b.opts.only, ",") {
		s, ok := byName[strings.TrimSpace(name)]
		if !ok {
			return nil, fmt.Errorf("-only: no step %q; the steps are %s", name, strings.Join(names, ", "))
		}
		picked = append(picked, s)
	}
	return picked, nil
}

func (o options) describe() map[string]string {
	return map[string]string{"duration": o.duration.String(), "clients": fmt.Sprint(o.clients),
		"subscribers": fmt.Sprint(o.subscribers), "containers": fmt.Sprint(o.containers),
		"list_clients": fmt.Sprint(o.listClients), "samples": fmt.Sprint(o.samples)}
}
