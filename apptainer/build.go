package apptainer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/sylabs/sif/v2/pkg/sif"
)

// BuildOptions describe the SIF that BuildSIF writes.
type BuildOptions struct {
	Arch       string            // Go architecture name; "" = this machine's
	Labels     map[string]string // stored as the SIF's labels object
	Definition string            // stored as the definition file, when not empty
	Created    time.Time         // zero = now
}

// mksquashfsTimeout bounds the packing of a root file system; test and demo trees are tiny.
const mksquashfsTimeout = 2 * time.Minute

// BuildSIF packs the root file system directory rootfs into a SIF image at path: a squashfs
// partition (made by mksquashfs, from Debian's squashfs-tools) with labels and a definition file.
// It is how tests and the dev cluster make small real images without Apptainer; sites build
// theirs with `apptainer build`. Errors name the failing step; mksquashfs's output is included.
func BuildSIF(ctx context.Context, path, rootfs string, o BuildOptions) error {
	if o.Arch == "" {
		o.Arch = runtime.GOARCH
	}
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".build-sif-")
	if err != nil {
		return fmt.Errorf("build sif: %w", err)
	}
	defer os.RemoveAll(tmp)
	sqfs := filepath.Join(tmp, "rootfs.sqfs")
	ctx, cancel := context.WithTimeout(ctx, mksquashfsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mksquashfs", rootfs, sqfs, "-noappend", "-all-root", "-quiet", "-no-progress")
	cmd.WaitDelay = time.Second
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build sif: mksquashfs %s: %w: %s", rootfs, err, strings.TrimSpace(string(out)))
	}
	part, err := os.Open(sqfs)
	if err != nil {
		return fmt.Errorf("build sif: %w", err)
	}
	defer part.Close()
	labels, err := json.Marshal(o.Labels)
	if err != nil {
		return fmt.Errorf("build sif: labels: %w", err)
	}
	var inputs []sif.DescriptorInput
	if o.Definition != "" {
		def, err := sif.NewDescriptorInput(sif.DataDeffile, bytes.NewReader([]byte(o.Definition)))
		if err != nil {
			return fmt.Errorf("build sif: definition: %w", err)
		}
		inputs = append(inputs, def)
	}
	lab, err := sif.NewDescriptorInput(sif.DataLabels, bytes.NewReader(labels))
	if err != nil {
		return fmt.Errorf("build sif: labels: %w", err)
	}
	fs, err := sif.NewDescriptorInput(sif.DataPartition, part, sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, o.Arch))
	if err != nil {
		return fmt.Errorf("build sif: partition: %w", err)
	}
	f, err := sif.CreateContainerAtPath(path,
		sif.OptCreateWithLaunchScript("#!/usr/bin/env run-singularity\n"),
		sif.OptCreateWithTime(o.Created),
		sif.OptCreateWithDescriptors(append(inputs, lab, fs)...))
	if err != nil {
		return fmt.Errorf("build sif %s: %w", path, err)
	}
	return f.UnloadContainer()
}
