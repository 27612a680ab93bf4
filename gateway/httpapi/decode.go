package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
	"batchgate/gateway/strictjson"
)

// badRequest is a request the API could not read at all (malformed JSON, wrong types, unknown
// fields): a 400, as opposed to a readable request that breaks a rule (422).
type badRequest struct{ err *gateway.Error }

func (b badRequest) Error() string { return b.err.Error() }
func (b badRequest) Unwrap() error { return b.err }

func badRequestf(field, format string, args ...any) error {
	e := &gateway.Error{Code: gateway.CodeInvalid, Message: "the request body could not be read"}
	if field != "" {
		e.Fields = []gateway.FieldError{{Field: field, Detail: fmt.Sprintf(format, args...)}}
	} else {
		e.Message = fmt.Sprintf(format, args...)
	}
	return badRequest{e}
}

// decodeJSON reads the body as exactly one JSON object into v, refusing unknown or wrongly-cased
// fields, wrong types and trailing data, and naming the field at fault (strictjson's rules, which
// the CLI applies to spec files too).
func decodeJSON(c *fiber.Ctx, v any) error {
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return &gateway.Error{Code: gateway.CodeInvalid, Message: "send the body as application/json",
			Fields: []gateway.FieldError{{Field: "Content-Type", Detail: "must be application/json"}}, Cause: errUnsupportedMedia}
	}
	if err := strictjson.Decode(c.Body(), v); err != nil {
		var e *strictjson.Error
		if !errors.As(err, &e) {
			return badRequestf("", "the body could not be read as JSON: %v", err)
		}
		detail := e.Detail
		if len(e.Accepted) > 0 {
			detail += "; the fields here are " + strings.Join(e.Accepted, ", ")
		}
		return badRequestf(e.Field, "%s", detail)
	}
	return nil
}

var errUnsupportedMedia = errors.New("unsupported media type")
