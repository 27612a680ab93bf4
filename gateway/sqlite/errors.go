package sqlite

import (
	"errors"
	"fmt"

	"github.com/mattn/go-sqlite3"

	"batchgate/gateway"
)

// dbErrorf wraps an error like fmt.Errorf and classifies it: when SQLite is busy or locked past
// the busy timeout (another process holds the database), the result is a CodeUnavailable domain
// error, so clients get a clear 503 to retry rather than an internal error.
func dbErrorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked) {
		return &gateway.Error{Code: gateway.CodeUnavailable,
			Message: "the gateway's database is locked by another process; retry shortly", Cause: err}
	}
	return err
}
