// Package strictjson decodes one JSON document into a struct by the API's rules: exactly one
// object, no unknown fields, field names matched letter for letter (encoding/json alone matches
// them without regard to case), wrong types named by field. The HTTP API decodes request bodies
// with it and the CLI decodes spec files with it, so both accept exactly the same documents.
// It uses only the standard library.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Error is a document that could not be decoded. Field is the path of the field at fault
// ("resources.gpus", "env[0].name"; "" when the document as a whole is at fault), Detail says
// what is wrong with it, and Accepted lists the field names the enclosing object takes when Field
// is not one of them.
type Error struct {
	Field    string
	Detail   string
	Accepted []string
}

// Error renders the error as "field: detail", with the accepted names when there are some.
func (e *Error) Error() string {
	s := e.Detail
	if e.Field != "" {
		s = e.Field + ": " + s
	}
	if len(e.Accepted) > 0 {
		s += "; the fields here are " + strings.Join(e.Accepted, ", ")
	}
	return s
}

// Decode reads data as exactly one JSON object into v (a pointer to a struct), refusing unknown
// or wrongly-cased field names, wrong types and trailing data. Every error it returns is an
// *Error naming the field at fault.
func Decode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	decodeErr := dec.Decode(v)
	switch {
	case decodeErr != nil && !isUnknownField(decodeErr):
		return describe(decodeErr)
	case decodeErr == nil:
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return &Error{Detail: "the body must hold exactly one JSON object"}
		}
	}
	// The decoder names an unknown field without its path or the names that would do; the walk
	// below finds it with both, and also the wrongly-cased names the decoder accepted.
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return describe(err)
	}
	if err := exactKeys(doc, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	if decodeErr != nil { // an unknown field the walk did not reach (say, in an embedded struct)
		return describe(decodeErr)
	}
	return nil
}

func isUnknownField(err error) bool { return strings.HasPrefix(err.Error(), "json: unknown field ") }

// exactKeys refuses object keys that are not, letter for letter, a json name of the struct they
// decode into (recursively through pointers, slices and nested structs), in key order so that the
// same document always gets the same error.
func exactKeys(doc any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch d := doc.(type) {
	case map[string]any:
		if t.Kind() != reflect.Struct {
			return nil
		}
		keys := make([]string, 0, len(d))
		for k := range d {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, key := range keys {
			field, ok := jsonField(t, key)
			if !ok {
				return &Error{Field: path + key, Detail: "is not a known field (names are case-sensitive)", Accepted: jsonNames(t)}
			}
			if err := exactKeys(d[key], field.Type, path+key+"."); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
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

// jsonName is the json name of struct field f, "" when encoding/json ignores it.
func jsonName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if tag == "-" || !f.IsExported() {
		return ""
	}
	if tag == "" {
		return f.Name
	}
	return tag
}

// jsonField finds the field of struct t whose json name is exactly name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonNames lists the json names of struct t's fields, in declaration order.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if n := jsonName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func describe(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return &Error{Detail: "the body is empty: send a JSON object"}
	case errors.As(err, &syntax):
		return &Error{Detail: fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Detail: "malformed JSON: the body ends early"}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return &Error{Field: field, Detail: fmt.Sprintf("must be %s, not JSON %s", typeName(typ.Type.Kind()), typ.Value)}
	case isUnknownField(err):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Field: name, Detail: "is not a known field"}
	}
	return &Error{Detail: fmt.Sprintf("the body could not be read as JSON: %v", err)}
}

func typeName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "a number"
	}
	return k.String()
}
