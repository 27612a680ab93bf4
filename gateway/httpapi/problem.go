package httpapi

import (
	"errors"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

// Problem is an RFC 9457 problem details body (application/problem+json).
type Problem struct {
	Type     string       `json:"type"`
	Title    string       `json:"title"`
	Status   int          `json:"status"`
	Detail   string       `json:"detail,omitempty"`
	Instance string       `json:"instance,omitempty"`
	Errors   []FieldError `json:"errors,omitempty"`
	// RequestID lets a user quote the request to an operator, who finds the cause in the logs.
	RequestID string `json:"request_id,omitempty"`
}

// FieldError is one problem with one field of a request.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// problemBase prefixes problem type URIs: stable identifiers that clients can switch on.
const problemBase = "urn:batchgate:problem:"

// handleError is the one place errors become HTTP responses. Clients get a safe message; causes of
// server errors are logged once, here, with the request id.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	p := s.problemFor(err)
	p.Instance = string([]byte(c.Path()))
	p.RequestID = requestID(c)
	if p.Status >= 500 {
		s.log.Error("request failed", slog.String("request_id", p.RequestID), slog.Any("error", err))
	}
	switch p.Status {
	case fiber.StatusUnauthorized:
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="batchgate"`)
	case fiber.StatusServiceUnavailable:
		c.Set(fiber.HeaderRetryAfter, "5")
	}
	return c.Status(p.Status).JSON(p, "application/problem+json")
}

// statusOf is the one map from domain error codes to HTTP statuses.
var statusOf = map[gateway.Code]int{
	gateway.CodeInvalid:      fiber.StatusUnprocessableEntity,
	gateway.CodeNotFound:     fiber.StatusNotFound,
	gateway.CodeConflict:     fiber.StatusConflict,
	gateway.CodeUnauthorized: fiber.StatusUnauthorized,
	gateway.CodeForbidden:    fiber.StatusForbidden,
	gateway.CodeUnavailable:  fiber.StatusServiceUnavailable,
}

// problemFor maps an error to its problem. Unknown errors are 500s with no detail.
func (s *Server) problemFor(err error) Problem {
	var fe *fiber.Error
	if errors.As(err, &fe) {
		return Problem{Type: problemBase + slugForStatus(fe.Code), Title: fe.Message, Status: fe.Code}
	}
	var ge *gateway.Error
	if errors.As(err, &ge) {
		status, known := statusOf[ge.Code]
		if known {
			var br badRequest
			if errors.As(err, &br) {
				status = fiber.StatusBadRequest
			}
			if errors.Is(err, errUnsupportedMedia) {
				status = fiber.StatusUnsupportedMediaType
			}
			p := Problem{Type: problemBase + string(ge.Code), Title: ge.Message, Status: status}
			for _, f := range ge.Fields {
				p.Errors = append(p.Errors, FieldError{Field: f.Field, Detail: f.Detail})
			}
			if status == fiber.StatusServiceUnavailable {
				p.Detail = "a service the gateway depends on is unavailable; retry shortly"
			}
			return p
		}
	}
	return Problem{Type: problemBase + "internal", Title: "Internal server error", Status: fiber.StatusInternalServerError,
		Detail: "The gateway could not complete the request; quote the request id to an operator."}
}

func slugForStatus(code int) string {
	switch code {
	case fiber.StatusNotFound:
		return "not-found"
	case fiber.StatusMethodNotAllowed:
		return "method-not-allowed"
	case fiber.StatusRequestEntityTooLarge:
		return "body-too-large"
	case fiber.StatusBadRequest:
		return "bad-request"
	default:
		return "http-" + strconv.Itoa(code)
	}
}
