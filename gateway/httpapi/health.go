package httpapi

import (
	"context"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// healthz answers 200 while the process is up; it checks nothing else.
func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

// checkResult is one dependency's verdict in the /readyz body.
type checkResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// readyz runs every readiness check concurrently and answers 200 only when all pass; otherwise 503
// with each failing check named and its error.
func (s *Server) readyz(c *fiber.Ctx) error {
	results := make(map[string]checkResult, len(s.opts.Checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	reqCtx := c.UserContext() // read once: fiber sets it lazily, which races between goroutines
	for _, chk := range s.opts.Checks {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(reqCtx, s.opts.CheckTimeout)
			defer cancel()
			res := checkResult{OK: true}
			if err := chk.Run(ctx); err != nil {
				res = checkResult{Error: err.Error()}
			}
			mu.Lock()
			results[chk.Name] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	var failing []string
	for _, chk := range s.opts.Checks {
		if !results[chk.Name].OK {
			failing = append(failing, chk.Name)
		}
	}
	body := fiber.Map{"status": "ready", "checks": results}
	if len(failing) > 0 {
		body["status"] = "unready"
		body["failing"] = failing
		return c.Status(fiber.StatusServiceUnavailable).JSON(body)
	}
	return c.JSON(body)
}
