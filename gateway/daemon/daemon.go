// Package daemon is the running gateway as a value: it wires the store, Slurm, the image catalog,
// COS and the HTTP server from one Config, so main and end-to-end tests start exactly the same
// thing.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"batchgate/apptainer"
	"batchgate/gateway"
	"batchgate/gateway/config"
	"batchgate/gateway/httpapi"
	"batchgate/gateway/sqlite"
	"batchgate/logship"
	"batchgate/slurm"
)

// Daemon is one batchgate gateway process.
type Daemon struct {
	cfg   config.Config
	log   *slog.Logger
	db    *sqlite.DB
	slurm *slurm.Client
	cos   *logship.Store
	sched *scheduler
	logs  *logs
	svc   *gateway.Service
	usage *gateway.Usage
	http  *httpapi.Server
	ln    net.Listener
	// stopLogs ends the log followers, which live as long as the daemon, not as one request.
	stopLogs context.CancelFunc
}

// New opens the database, builds the Service and the server, and binds the listen address
// (port 0 picks a free port: see Addr). Nothing is served and Slurm is not polled until Run.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Daemon, error) {
	d := &Daemon{cfg: cfg, log: log}
	var err error
	if d.slurm, err = slurm.New(slurmConfig(cfg)); err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	catalog, err := apptainer.NewCatalog(apptainer.CatalogConfig{Dirs: cfg.Images.Dirs})
	if err != nil {
		return nil, fmt.Errorf("image catalog: %w", err)
	}
	if d.cos, err = logship.NewStore(logship.COSConfig{Endpoint: cfg.COS.Endpoint, AccessKey: cfg.COS.AccessKey,
		SecretKey: cfg.COS.SecretKey, Bucket: cfg.COS.Bucket, Region: cfg.COS.Region, UseTLS: cfg.COS.TLS,
		RetentionDays: cfg.COS.RetentionDays}); err != nil {
		return nil, fmt.Errorf("cos: %w", err)
	}
	if d.db, err = sqlite.Open(ctx, cfg.Database); err != nil {
		return nil, err
	}
	logCtx, stopLogs := context.WithCancel(context.WithoutCancel(ctx))
	d.stopLogs = stopLogs
	d.sched = &scheduler{client: d.slurm, loc: cfg.Cluster.Location(), log: log}
	d.logs = newLogs(logCtx, d.cos, d.db, slurmConfig(cfg).Wrapper, cfg.Cluster.CommandTimeout, log)
	d.svc = gateway.NewService(serviceConfig(cfg), d.db, d.sched,
		newImages(catalog, cfg.Images.Apptainer, cfg.Images.ExtraFlags),
		d.logs, gateway.NewBroker(10000), log)
	d.usage = gateway.NewUsage(UsageConfig(cfg), d.db, d.sched, log)
	d.http = httpapi.New(httpapi.Options{
		Logger:  log,
		Checks:  d.readinessChecks(),
		Service: d.svc,
		Usage:   d.usage,
		Auth:    gateway.Authenticator{Tokens: d.db},
		Audit:   d.db,
		Metrics: []func(w io.Writer){d.sched.writeMetrics},
	})
	if d.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		stopLogs()
		d.db.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return d, nil
}

// slurmConfig builds the slurm client's configuration: the submit-as wrapper and SLURM_CONF.
func slurmConfig(cfg config.Config) slurm.Config {
	sc := slurm.Config{Bin: cfg.Cluster.SlurmBin, Timeout: cfg.Cluster.CommandTimeout,
		Location: cfg.Cluster.Location(), MaxWindow: cfg.Cluster.SacctMaxWindow}
	if cfg.Cluster.SlurmConf != "" {
		sc.Env = append(sc.Env, "SLURM_CONF="+cfg.Cluster.SlurmConf)
	}
	switch cfg.Cluster.SubmitAs {
	case "runuser":
		sc.Wrapper = []string{"runuser", "-u", "{user}", "--"}
	case "sudo":
		sc.Wrapper = []string{"sudo", "-n", "-u", "{user}", "--"}
	}
	return sc
}

func serviceConfig(cfg config.Config) gateway.Config {
	sc := gateway.Config{
		Location:       cfg.Cluster.Location(),
		HomeTemplate:   cfg.HFS.Home,
		WorkTemplate:   cfg.HFS.Work,
		LogDirTemplate: cfg.HFS.LogDir,
	}
	for _, f := range cfg.Flavors {
		sc.Flavors = append(sc.Flavors, gateway.Flavor{Name: f.Name, GPUs: f.GPUs, GPUType: f.GPUType, CPUs: f.CPUs,
			MemoryMB: f.MemoryMB, Partition: f.Partition, TimeLimit: f.TimeLimit, PricePerHour: f.PricePerHour, Currency: f.Currency})
	}
	return sc
}

// UsageConfig builds the usage service's configuration (also used by the usage CLI).
func UsageConfig(cfg config.Config) gateway.UsageConfig {
	u := cfg.Usage
	return gateway.UsageConfig{
		Cluster: u.Cluster, Location: cfg.Cluster.Location(), MaxRange: u.MaxQueryRange,
		Prices: gateway.UsagePrices{PerGPUHour: u.PricePerGPUHour, PerCPUHour: u.PricePerCPUHour, Currency: cfg.UsageCurrency()},
		Window: u.Window, Overlap: u.Overlap, Backfill: u.Backfill, Interval: u.IngestInterval, StepsPerTick: u.StepsPerTick,
	}
}

// readinessChecks are /readyz's: the database opens, slurmctld answers, the COS bucket exists.
func (d *Daemon) readinessChecks() []httpapi.Check {
	return []httpapi.Check{
		{Name: "database", Run: d.db.Ping},
		{Name: "slurm", Run: d.slurm.Ping},
		{Name: "cos", Run: d.cos.Ready},
	}
}

// Addr is the address the gateway listens on (useful when the configured port was 0).
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Service is the running Service (for in-process tests and the CLI).
func (d *Daemon) Service() *gateway.Service { return d.svc }

// Usage is the usage ledger's service (for in-process tests and the CLI).
func (d *Daemon) Usage() *gateway.Usage { return d.usage }

// Store is the running store (for in-process tests and the admin CLI).
func (d *Daemon) Store() *sqlite.DB { return d.db }

// Run serves and runs the reconciler and usage ingestion until ctx is cancelled, then shuts down
// gracefully, waiting at most the configured shutdown timeout for requests in flight.
func (d *Daemon) Run(ctx context.Context) error {
	loopCtx, stopLoops := context.WithCancel(ctx)
	var loops sync.WaitGroup
	loops.Go(func() { d.ensureBucket(loopCtx) })
	loops.Go(func() { d.svc.RunReconciler(loopCtx, d.cfg.Cluster.PollInterval) })
	loops.Go(func() { d.usage.RunIngest(loopCtx) })
	defer func() {
		stopLoops()
		loops.Wait()
		d.svc.WaitSealing()
		d.stopLogs()
		d.logs.wait()
	}()

	served := make(chan error, 1)
	go func() { served <- d.http.Serve(d.ln) }()
	d.log.Info("batchgate serving", slog.String("addr", d.Addr()))
	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	d.log.Info("shutting down", slog.Duration("timeout", d.cfg.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.cfg.ShutdownTimeout)
	defer cancel()
	if err := d.http.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// ensureBucket creates the COS bucket (and its retention rule) when missing, retrying with backoff
// while COS is unreachable: the gateway serves meanwhile, and logs wait on HFS.
func (d *Daemon) ensureBucket(ctx context.Context) {
	wait := time.Second
	for {
		err := d.cos.EnsureBucket(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		d.log.Warn("COS bucket not ready; retrying", slog.Duration("in", wait), slog.Any("error", err))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

// Close releases the database. Call it after Run returns.
func (d *Daemon) Close() error { return d.db.Close() }

// NewScriptService builds a Service that can validate specs and render batch scripts without a
// database, a listener or COS: what `batchgate script` needs on a login node.
func NewScriptService(cfg config.Config, log *slog.Logger) (*gateway.Service, error) {
	client, err := slurm.New(slurmConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("slurm: %w", err)
	}
	catalog, err := apptainer.NewCatalog(apptainer.CatalogConfig{Dirs: cfg.Images.Dirs})
	if err != nil {
		return nil, fmt.Errorf("image catalog: %w", err)
	}
	sched := &scheduler{client: client, loc: cfg.Cluster.Location(), log: log}
	return gateway.NewService(serviceConfig(cfg), nil, sched,
		newImages(catalog, cfg.Images.Apptainer, cfg.Images.ExtraFlags),
		nil, gateway.NewBroker(1), log), nil
}
