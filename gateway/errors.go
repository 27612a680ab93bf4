// Package gateway is batchgate's domain: containers, tasks, schedules, flavors and projects, their
// rules, the Service that does the work and the small interfaces it needs from the outside world.
// It imports only the standard library; adapters (sqlite, httpapi, slurm, apptainer, logship) meet
// only through it.
package gateway

import (
	"errors"
	"fmt"
	"strings"
)

// Code classifies a domain error; the HTTP layer maps each code to one status in one place.
type Code string

// Error codes.
const (
	CodeInvalid      Code = "invalid"      // the request is malformed or breaks a rule (400/422)
	CodeNotFound     Code = "not_found"    // no such resource, or not visible to the caller (404)
	CodeConflict     Code = "conflict"     // the resource's state forbids the action (409)
	CodeUnauthorized Code = "unauthorized" // no valid credentials (401)
	CodeForbidden    Code = "forbidden"    // visible, but the caller's role may not do this (403)
	CodeUnavailable  Code = "unavailable"  // a dependency (Slurm, COS, the database) is down (503)
	CodeInternal     Code = "internal"     // a bug or an unexpected failure (500)
)

// Error is a domain error with a code, a message safe to show to the caller, and optionally the
// problems of individual fields. The wrapped cause is for logs only.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	Cause   error
}

// FieldError is one problem with one field of a request: which field, why, and what is accepted.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Detail)
	}
	if e.Cause != nil {
		b.WriteString(": ")
		b.WriteString(e.Cause.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Cause }

// ErrorCode returns the code of the first *Error in err's chain, or CodeInternal.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// Errorf builds an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound reports that a kind of resource with id does not exist (or is not the caller's to see).
func NotFound(kind, id string) *Error {
	return Errorf(CodeNotFound, "%s %q not found", kind, id)
}

// Problems collects field errors so a request's every problem is reported at once.
type Problems []FieldError

// Add records a problem with field.
func (p *Problems) Add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Detail: fmt.Sprintf(format, args...)})
}

// Err returns nil when there are no problems, else one CodeInvalid *Error carrying all of them.
func (p Problems) Err(message string) error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Code: CodeInvalid, Message: message, Fields: p}
}
