package httpapi

import "github.com/gofiber/fiber/v2"

// taskScript serves the exact script submitted for a task as text (?download=1 as a file), with
// the task's own authorization: a task the caller may not see is a 404 like the task itself.
func (s *Server) taskScript(c *fiber.Ctx) error {
	id := c.Params("id")
	script, err := s.svc.TaskScript(c.UserContext(), principal(c), id)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	if c.Query("download") != "" {
		c.Attachment(id + ".sbatch")
	}
	return c.SendString(script)
}
