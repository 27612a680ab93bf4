package daemon

import (
	"context"
	"errors"
	"path/filepath"
	"time"

	"batchgate/gateway"
	"batchgate/logship"
)

// logs adapts logship to the Service's Logs port.
type logs struct {
	wrapper []string
	timeout time.Duration
}

func (l logs) Prepare(ctx context.Context, owner, logPath string) error {
	err := logship.MakeLogDir(ctx, l.wrapper, owner, filepath.Dir(logPath), l.timeout)
	if errors.Is(err, logship.ErrLogDirRefused) {
		return &gateway.Error{Code: gateway.CodeInvalid, Message: err.Error(), Cause: err}
	}
	return err
}
