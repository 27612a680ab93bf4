package logship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// ErrLogDirRefused means mkdir ran and refused (permission denied, not a directory ...): the
// directory cannot be made as that user, and retrying will not help.
var ErrLogDirRefused = errors.New("log directory refused")

// MakeLogDir creates dir and its parents as user, by running `mkdir -p` through wrapper (its
// "{user}" elements replaced; an empty wrapper runs it as the gateway itself), bounded by timeout.
// Running as the user means the directory is the user's, exactly as if the job had made it, and
// the gateway never creates anything the user could not. mkdir's refusal is ErrLogDirRefused with
// its message; a timeout or a failure to run is returned as is.
func MakeLogDir(ctx context.Context, wrapper []string, user, dir string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := make([]string, 0, len(wrapper)+4)
	for _, w := range wrapper {
		argv = append(argv, strings.ReplaceAll(w, "{user}", user))
	}
	argv = append(argv, "mkdir", "-p", "--", dir)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("mkdir %s as %s: %w", dir, user, ctx.Err())
	case errors.As(err, &exit):
		return fmt.Errorf("%w: %s", ErrLogDirRefused, strings.TrimSpace(stderr.String()))
	}
	return fmt.Errorf("mkdir %s as %s: %w", dir, user, err)
}
