package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

// The audit trail is written here, in one middleware on the authenticated API, rather than by the
// Service after each change: only this layer knows where a request came from and the result the
// caller really got (including requests refused before the Service ran, such as malformed
// bodies), and every mutating route, present or future, is recorded without a call to remember
// in each handler. Changes the gateway makes on its own (the reconciler) are not requests; they
// are in each task's history.

// auditActions names the changes of the route table; a mutating route missing here is still
// recorded, as "METHOD /route".
var auditActions = map[string]string{
	"POST /api/v1/containers":             "container.create",
	"PUT /api/v1/containers/:id":          "container.update",
	"DELETE /api/v1/containers/:id":       "container.delete",
	"POST /api/v1/containers/:id/start":   "container.start",
	"POST /api/v1/containers/:id/stop":    "container.stop",
	"POST /api/v1/containers/:id/refresh": "container.refresh",
}

// isChange reports whether a request method may change something.
func isChange(method string) bool {
	switch method {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
		return false
	}
	return true
}

// auditChanges records every authenticated request that may change something: who, what, which
// resource of which project, from where, and the result the caller got ("ok" or the problem's
// code). The entry is written after the handler, whatever happened to the client meanwhile; a
// failure to write it is logged, as the change itself cannot be undone.
func (s *Server) auditChanges(c *fiber.Ctx) error {
	if !isChange(c.Method()) || s.opts.Audit == nil {
		return c.Next()
	}
	e := gateway.AuditEntry{Actor: principal(c).User, Remote: c.IP()}
	// The resource and its project are read before the handler runs (a deleted container's project
	// is gone afterwards), from the path: a middleware's own route has no parameters.
	if rest, ok := strings.CutPrefix(c.Path(), "/api/v1/containers/"); ok {
		id, _, _ := strings.Cut(rest, "/")
		e.Resource = string([]byte(id))
		e.Project = s.svc.ContainerProject(c.UserContext(), e.Resource)
	} else if c.Path() == "/api/v1/containers" {
		var req struct {
			Project string `json:"project"`
		}
		if json.Unmarshal(c.Body(), &req) == nil {
			e.Project = req.Project
		}
	}
	err := c.Next()
	key := c.Method() + " " + c.Route().Path
	e.Action = auditActions[key]
	if e.Action == "" {
		e.Action = key
	}
	status := c.Response().StatusCode()
	e.Result = gateway.AuditResultOK
	if err != nil {
		p := s.problemFor(err)
		status, e.Result = p.Status, strings.TrimPrefix(p.Type, problemBase)
	} else if loc := string(c.Response().Header.Peek(fiber.HeaderLocation)); e.Resource == "" && loc != "" {
		e.Resource = path.Base(loc) // the created resource
	}
	e.Detail = fmt.Sprintf("HTTP %d, request %s", status, requestID(c))
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), 5*time.Second)
	defer cancel()
	if _, aerr := s.opts.Audit.AppendAudit(ctx, e); aerr != nil {
		s.log.Error("audit entry not recorded", slog.String("request_id", requestID(c)),
			slog.String("action", e.Action), slog.String("resource", e.Resource), slog.Any("error", aerr))
	}
	return err
}

// listAudit answers one page of the audit entries the caller may read, newest first:
// ?actor= &action= &resource= &project= &since= &until= (RFC 3339) &limit= &cursor=.
func (s *Server) listAudit(c *fiber.Ctx) error {
	if s.opts.Audit == nil {
		return gateway.Errorf(gateway.CodeUnavailable, "the audit trail is not configured")
	}
	f := gateway.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action"), Resource: c.Query("resource"),
		Project: c.Query("project")}
	var problems gateway.Problems
	for _, q := range []struct {
		name string
		into *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := c.Query(q.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				problems.Add(q.name, "must be an RFC 3339 time, such as 2026-01-02T15:00:00Z")
			}
			*q.into = t
		}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			problems.Add("limit", "must be a whole number from 1 to %d", gateway.MaxAuditLimit)
		}
		f.Limit = n
	}
	if len(problems) > 0 {
		return badRequest{&gateway.Error{Code: gateway.CodeInvalid, Message: "bad audit query", Fields: problems}}
	}
	items, next, err := gateway.ReadAudit(c.UserContext(), s.opts.Audit, principal(c), f, c.Query("cursor"))
	if err != nil {
		return err
	}
	if items == nil {
		items = []gateway.AuditEntry{}
	}
	return c.JSON(fiber.Map{"items": items, "next_cursor": next})
}
