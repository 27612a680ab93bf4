// Package httpapi is batchgate's HTTP face: one Fiber app, one route table, thin handlers and one
// error mapper that turns every error into an RFC 9457 problem. It is the only importer of fiber.
package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
	"batchgate/web"
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
	// Service does the work of the API; nil serves only the health endpoints.
	Service *gateway.Service
	// Usage answers /usage; nil answers it with 503.
	Usage *gateway.Usage
	// Auth turns a bearer token into a principal.
	Auth Authenticator
	// Audit is the audit trail: every authenticated change is recorded in it, and admins read it
	// at /api/v1/audit. Nil records nothing (the route then answers 503).
	Audit gateway.AuditLog
	// Metrics are extra Prometheus text writers appended to /metrics (Slurm calls, tasks ...).
	Metrics []func(w io.Writer)
}

// Authenticator checks bearer tokens (gateway.Authenticator satisfies it).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (gateway.Principal, error)
}

// Server is the HTTP gateway.
type Server struct {
	app     *fiber.App
	log     *slog.Logger
	opts    Options
	svc     *gateway.Service
	metrics *httpMetrics
	limiter *failureLimiter
	// streams is cancelled at Shutdown so that open event streams end and shutdown can finish.
	streams       context.Context
	cancelStreams context.CancelFunc
	// console holds the web console's files by path, served at "/" (see console.go).
	console map[string]consoleFile
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
	s := &Server{log: opts.Logger, opts: opts, svc: opts.Service, metrics: newHTTPMetrics(), limiter: newFailureLimiter()}
	s.streams, s.cancelStreams = context.WithCancel(context.Background())
	var err error
	if s.console, err = loadConsole(web.Assets()); err != nil {
		s.log.Error("web console not served", slog.Any("error", err))
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "batchgate",
		DisableStartupMessage: true,
		BodyLimit:             opts.BodyLimit,
		ErrorHandler:          s.handleError,
		// Answers are encoded with goccy/go-json: the same bytes as encoding/json for our types
		// (TestJSONEncoderMatchesStdlib), in about half the time, which a list page feels.
		// Requests are still decoded strictly by decode.go with encoding/json.
		JSONEncoder: gojson.Marshal,
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 120 * time.Second,
	})
	s.routes()
	return s
}

// routes is the one route table. Every /api/v1 route but the OpenAPI document needs a token.
func (s *Server) routes() {
	s.app.Use(s.requestLog)
	s.app.Get("/healthz", s.healthz)
	s.app.Get("/readyz", s.readyz)
	s.app.Get("/metrics", s.serveMetrics)
	if s.svc == nil {
		return
	}
	api := s.app.Group("/api/v1")
	api.Get("/openapi.json", s.openAPI)
	api.Use(s.authenticate)
	api.Use(s.auditChanges)
	api.Get("/flavors", s.listFlavors)
	api.Get("/images", s.listImages)
	api.Get("/estimate", s.estimate)
	api.Get("/events", s.events)
	api.Post("/containers", s.createContainer)
	api.Get("/containers", s.listContainers)
	api.Get("/containers/:id", s.getContainer)
	api.Put("/containers/:id", s.updateContainer)
	api.Delete("/containers/:id", s.deleteContainer)
	api.Post("/containers/:id/start", s.startContainer)
	api.Post("/containers/:id/stop", s.stopContainer)
	api.Post("/containers/:id/refresh", s.refreshContainer)
	api.Get("/containers/:id/script", s.containerScript)
	api.Get("/containers/:id/tasks", s.containerTasks)
	api.Get("/tasks/:id", s.getTask)
	api.Get("/tasks/:id/history", s.taskHistory)
	api.Get("/tasks/:id/script", s.taskScript)
	api.Get("/tasks/:id/log", s.taskLog)
	api.Get("/tasks/:id/log/download", s.taskLogDownload)
	api.Get("/audit", s.listAudit)
	api.Get("/usage", s.usage)
	api.Get("/cluster", s.cluster)
	// The web console, last: every route above keeps priority over its files.
	s.app.Use(s.serveConsole)
}

// Serve accepts connections on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown ends open event streams, stops accepting connections and waits for requests in flight
// until ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cancelStreams()
	return s.app.ShutdownWithContext(ctx)
}

// App exposes the Fiber app for in-process tests (app.Test).
func (s *Server) App() *fiber.App { return s.app }
