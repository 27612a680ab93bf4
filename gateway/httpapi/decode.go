package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strconv"
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
	// encoding/json matches field names without regard to case; the API's names are exact.
	var doc any
	if err := json.Unmarshal(c.Body(), &doc); err != nil {
		return describeDecodeError(err)
	}
	return exactKeys(doc, reflect.TypeOf(v), "")
}

// exactKeys refuses object keys that are not, letter for letter, a json name of the struct they
// decode into (recursively through pointers, slices and nested structs).
func exactKeys(doc any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch d := doc.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil
		}
		for key, val := range d {
			field, ok := jsonField(t, key)
			if !ok {
				return badRequestf(path+key, "is not a known field (names are case-sensitive)")
			}
			if err := exactKeys(val, field.Type, path+key+"."); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return nil
		}
		for i, val := range d {
			if err := exactKeys(val, t.Elem(), strings.TrimSuffix(path, ".")+"["+strconv.Itoa(i)+"]."); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonField finds the field of struct t whose json name is exactly name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
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
