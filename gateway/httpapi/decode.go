package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
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

// decodeJSON reads the body as exactly one JSON object into v, refusing unknown fields, wrong
// types and trailing data, and naming the field at fault.
func decodeJSON(c *fiber.Ctx, v any) error {
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return &gateway.Error{Code: gateway.CodeInvalid, Message: "send the body as application/json",
			Fields: []gateway.FieldError{{Field: "Content-Type", Detail: "must be application/json"}}, Cause: errUnsupportedMedia}
	}
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeDecodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequestf("", "the body must hold exactly one JSON object")
	}
	return nil
}

var errUnsupportedMedia = errors.New("unsupported media type")

func describeDecodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return badRequestf("", "the body is empty: send a JSON object")
	case errors.As(err, &syntax):
		return badRequestf("", "malformed JSON at byte %d: %v", syntax.Offset, syntax)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequestf("", "malformed JSON: the body ends early")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return badRequestf(field, "must be %s, not JSON %s", jsonTypeName(typ.Type.Kind().String()), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return badRequestf(name, "is not a known field")
	}
	return badRequestf("", "the body could not be read as JSON: %v", err)
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int64", "float64":
		return "a number"
	}
	return kind
}
