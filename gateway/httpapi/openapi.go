package httpapi

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPIDoc is the API's OpenAPI 3.1 description. TestOpenAPIMatchesRoutes keeps its paths and
// methods equal to the route table.
//
//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(openAPIDoc)
}
