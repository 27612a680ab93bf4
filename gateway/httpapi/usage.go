package httpapi

import (
	"bytes"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

// usage answers GET /usage?project=&user=&from=&to=&group_by=: totals and series as JSON, or CSV
// when the client prefers text/csv. Scoping by role is the Service's (gateway.Usage.Report).
func (s *Server) usage(c *fiber.Ctx) error {
	if s.opts.Usage == nil {
		return gateway.Errorf(gateway.CodeUnavailable, "usage is not configured on this gateway")
	}
	q, err := s.opts.Usage.ParseQuery(gateway.UsageQueryInput{
		Project: c.Query("project"), User: c.Query("user"), From: c.Query("from"), To: c.Query("to"),
		GroupBy: c.Query("group_by"),
	})
	if err != nil {
		return err
	}
	rep, err := s.opts.Usage.Report(c.UserContext(), principal(c), q)
	if err != nil {
		return err
	}
	if c.Accepts(fiber.MIMEApplicationJSON, "text/csv") == "text/csv" {
		var buf bytes.Buffer
		if err := rep.WriteCSV(&buf); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="usage.csv"`)
		return c.Send(buf.Bytes())
	}
	return c.JSON(rep)
}
