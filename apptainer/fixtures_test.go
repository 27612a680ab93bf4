package apptainer

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sylabs/sif/v2/pkg/sif"
)

// The tests build their images: a busybox-static root file system, squashed
// by mksquashfs and wrapped in a SIF with labels and a definition file. Nothing
// binary is committed.

const testDefinition = "Bootstrap: scratch\n%files\n    busybox /bin/busybox\n%labels\n    name tiny\n"

var testLabels = `{"name":"tiny","version":"1.0","org.label-schema.build-size":7}`

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

// requireTools skips the test when the image-building tools are missing.
func requireTools(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		tb.Skip("mksquashfs not found: install Debian's squashfs-tools to build test images")
	}
	if _, err := os.Stat("/bin/busybox"); err != nil {
		tb.Skip("/bin/busybox not found: install Debian's busybox-static to build test images")
	}
}

// fixtures builds, once per test binary, a rootfs dir, a squashfs file and
// SIFs for this host's architecture and for a foreign one.
func fixtures(tb testing.TB) string {
	tb.Helper()
	requireTools(tb)
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "apptainer-fixtures-")
		if fixtureErr != nil {
			return
		}
		fixtureErr = buildFixtures(fixtureDir)
	})
	if fixtureErr != nil {
		tb.Fatalf("build fixtures: %v", fixtureErr)
	}
	return fixtureDir
}

func foreignArch() string {
	if runtime.GOARCH == "s390x" {
		return "arm64"
	}
	return "s390x"
}

func buildFixtures(dir string) error {
	root := filepath.Join(dir, "rootfs")
	if err := makeRootFS(root); err != nil {
		return err
	}
	sqfs := filepath.Join(dir, "rootfs.sqfs")
	out, err := exec.Command("mksquashfs", root, sqfs, "-noappend", "-all-root", "-quiet", "-no-progress").CombinedOutput()
	if err != nil {
		return &exec.ExitError{Stderr: out}
	}
	if err := makeSIF(filepath.Join(dir, "tiny.sif"), sqfs, runtime.GOARCH); err != nil {
		return err
	}
	return makeSIF(filepath.Join(dir, "foreign.sif"), sqfs, foreignArch())
}

func makeRootFS(root string) error {
	for _, d := range []string{"bin", "tmp", "etc", ".singularity.d"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile("/bin/busybox", filepath.Join(root, "bin", "busybox"), 0o755); err != nil {
		return err
	}
	for _, app := range []string{"sh", "echo", "cat", "ls", "id", "sleep", "true", "env", "pwd"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", app)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(root, ".singularity.d", "labels.json"), []byte(testLabels), 0o644)
}

func makeSIF(path, sqfs, arch string) error {
	part, err := os.Open(sqfs)
	if err != nil {
		return err
	}
	defer part.Close()
	def, err := sif.NewDescriptorInput(sif.DataDeffile, bytes.NewReader([]byte(testDefinition)))
	if err != nil {
		return err
	}
	labels, err := sif.NewDescriptorInput(sif.DataLabels, bytes.NewReader([]byte(testLabels)))
	if err != nil {
		return err
	}
	fs, err := sif.NewDescriptorInput(sif.DataPartition, part,
		sif.OptPartitionMetadata(sif.FsSquash, sif.PartPrimSys, arch))
	if err != nil {
		return err
	}
	f, err := sif.CreateContainerAtPath(path,
		sif.OptCreateWithLaunchScript("#!/usr/bin/env run-singularity\n"),
		sif.OptCreateWithTime(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)),
		sif.OptCreateWithDescriptors(def, labels, fs))
	if err != nil {
		return err
	}
	return f.UnloadContainer()
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// place copies fixture name into dir as base and returns its path.
func place(tb testing.TB, name, dir, base string) string {
	tb.Helper()
	dst := filepath.Join(dir, base)
	if err := copyFile(filepath.Join(fixtures(tb), name), dst, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// placeSandbox copies the fixture root file system into dir/base.
func placeSandbox(tb testing.TB, dir, base string) string {
	tb.Helper()
	dst := filepath.Join(dir, base)
	out, err := exec.Command("cp", "-a", filepath.Join(fixtures(tb), "rootfs"), dst).CombinedOutput()
	if err != nil {
		tb.Fatalf("copy sandbox: %v: %s", err, out)
	}
	return dst
}
