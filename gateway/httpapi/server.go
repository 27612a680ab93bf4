// Package httpapi is batchgate's HTTP face: one Fiber app, one route table, thin handlers and one
// error mapper that turns every error into an RFC 9457 problem. It is the only importer of fiber.
package httpapi

import (
	"context"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Check is one readiness probe: Run returns nil when the dependency named Name is usable.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	Logger *slog.Logger
	// Checks are run by /readyz, concurrently, each bounded by CheckTimeout (default 3s).
	Checks       []Check
	CheckTimeout time.Duration
	// BodyLimit is the largest request body accepted, in bytes (default 1 MiB).
	BodyLimit int
}

// Server is the HTTP gateway.
type Server struct {
	app  *fiber.App
	log  *slog.Logger
	opts Options
}

// New builds the server and its route table.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CheckTimeout == 0 {
		opts.CheckTimeout = 3 * time.Second
	}
	if opts.BodyLimit == 0 {
		opts.BodyLimit = 1 << 20
	}
	s := &Server{log: opts.Logger, opts: opts}
	s.app = fiber.New(fiber.Config{
		AppName:               "batchgate",
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ErrorHandler:          s.handleError,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           120 * time.Second,
	})
	s.routes()
	return s
}

func (s *Server) routes() {
	s.app.Use(s.requestLog)
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for requests in flight until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

// App exposes the Fiber app for in-process tests (app.Test).
func (s *Server) App() *fiber.App { return s.app }
