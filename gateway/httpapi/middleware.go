package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"
)

const requestIDKey = "request_id"

// requestIDRE accepts a caller's X-Request-ID only when it is short and plain, so it can be logged.
var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestLog gives every request an id (the caller's X-Request-ID when sane), echoes it in the
// response and writes one structured line per request when it is done.
func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	id := c.Get(fiber.HeaderXRequestID)
	if !requestIDRE.MatchString(id) {
		id = newRequestID()
	}
	c.Locals(requestIDKey, id)
	c.Set(fiber.HeaderXRequestID, id)
	err := c.Next()
	if err != nil {
		// Let the error handler write the response now, so the status below is the real one.
		if herr := s.app.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	route := c.Route().Path
	if route == "/" && c.Path() != "/" {
		route = "(unmatched)" // keep unknown paths out of the metric labels
	}
	s.metrics.observe(c.Method(), route, c.Response().StatusCode(), time.Since(start))
	level := slog.LevelInfo
	if c.Response().StatusCode() >= 500 {
		level = slog.LevelError
	}
	// Copies: fiber reuses these buffers after the handler returns.
	s.log.Log(c.UserContext(), level, "request",
		slog.String("request_id", id),
		slog.String("method", c.Method()),
		slog.String("path", string([]byte(c.Path()))),
		slog.Int("status", c.Response().StatusCode()),
		slog.Duration("duration", time.Since(start)),
		slog.String("remote", c.IP()),
	)
	return nil
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}
