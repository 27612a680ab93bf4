// Package daemon is the running gateway as a value: it wires the store, Slurm, COS and the HTTP
// server from one Config, so main and end-to-end tests start exactly the same thing.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"batchgate/gateway/config"
	"batchgate/gateway/httpapi"
	"batchgate/gateway/sqlite"
	"batchgate/logship"
	"batchgate/slurm"
)

// Daemon is one batchgate gateway process.
type Daemon struct {
	cfg  config.Config
	log  *slog.Logger
	db   *sqlite.DB
	http *httpapi.Server
	ln   net.Listener
}

// New opens the database, builds the server and binds the listen address (port 0 picks a free
// port: see Addr). Nothing is served until Run.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (*Daemon, error) {
	db, err := sqlite.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, db: db}
	d.http = httpapi.New(httpapi.Options{Logger: log, Checks: d.readinessChecks()})
	d.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	return d, nil
}

// readinessChecks are /readyz's: the database opens, slurmctld answers, the COS bucket exists.
func (d *Daemon) readinessChecks() []httpapi.Check {
	cl, cos := d.cfg.Cluster, d.cfg.COS
	var slurmEnv []string
	if cl.SlurmConf != "" {
		slurmEnv = append(slurmEnv, "SLURM_CONF="+cl.SlurmConf)
	}
	return []httpapi.Check{
		{Name: "database", Run: d.db.Ping},
		{Name: "slurm", Run: func(ctx context.Context) error {
			return slurm.PingController(ctx, cl.SlurmBin, slurmEnv, cl.CommandTimeout)
		}},
		{Name: "cos", Run: func(ctx context.Context) error {
			return logship.CheckBucket(ctx, logship.BucketTarget{
				Endpoint: cos.Endpoint, AccessKey: cos.AccessKey, SecretKey: cos.SecretKey,
				Bucket: cos.Bucket, Region: cos.Region, TLS: cos.TLS,
			})
		}},
	}
}

// Addr is the address the gateway listens on (useful when the configured port was 0).
func (d *Daemon) Addr() string { return d.ln.Addr().String() }

// Run serves until ctx is cancelled, then shuts down gracefully, waiting at most the configured
// shutdown timeout for requests in flight.
func (d *Daemon) Run(ctx context.Context) error {
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

// Close releases the database. Call it after Run returns.
func (d *Daemon) Close() error { return d.db.Close() }
