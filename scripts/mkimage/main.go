// Command mkimage builds a tiny but real SIF image for the dev cluster and the tests: a
// busybox-static root file system (Debian's busybox-static) packed by mksquashfs, with labels.
//
//	go run ./scripts/mkimage -o /tmp/batchgate-dev/hfs/images/busybox.sif [-name busybox]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"batchgate/apptainer"
)

func main() {
	out := flag.String("o", "", "output SIF `path`")
	name := flag.String("name", "busybox", "the image's name label")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "mkimage: -o PATH is required")
		os.Exit(2)
	}
	if err := build(*out, *name); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func build(out, name string) error {
	root, err := os.MkdirTemp("", "mkimage-rootfs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	for _, d := range []string{"bin", "tmp", "etc", "dev", "proc", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile("/bin/busybox", filepath.Join(root, "bin", "busybox")); err != nil {
		return fmt.Errorf("busybox (install Debian's busybox-static): %w", err)
	}
	for _, app := range []string{"sh", "echo", "cat", "ls", "id", "sleep", "true", "false", "env", "pwd", "seq", "date", "printf", "head", "wc"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", app)); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// A dot-file while it is written: the catalog skips those, so it never sees half an image.
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp")
	err = apptainer.BuildSIF(ctx, tmp, root, apptainer.BuildOptions{
		Labels:     map[string]string{"name": name, "version": "1.0", "description": "busybox shell tools: a tiny demo image"},
		Definition: "Bootstrap: scratch\n%files\n    /bin/busybox /bin/busybox\n%labels\n    name " + name + "\n",
	})
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, in); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
