// Package slurm owns every conversation with Slurm: the commands it runs and the output it parses.
package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ErrControllerDown means scontrol ping ran but slurmctld did not answer UP.
var ErrControllerDown = errors.New("slurmctld is not responding")

// PingController runs `scontrol ping` with the given extra environment (e.g. SLURM_CONF=...) and
// binary directory ("" = PATH), bounded by timeout. It returns nil only when the controller is UP.
func PingController(ctx context.Context, binDir string, env []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bin := "scontrol"
	if binDir != "" {
		bin = filepath.Join(binDir, bin)
	}
	cmd := exec.CommandContext(ctx, bin, "ping")
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = time.Second // do not wait forever on pipes held open by a stuck child
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("scontrol ping: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	if !strings.Contains(stdout.String(), "is UP") {
		return fmt.Errorf("%w: %s", ErrControllerDown, strings.TrimSpace(stdout.String()))
	}
	return nil
}
