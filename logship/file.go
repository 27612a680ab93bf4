package logship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// observe opens the file when needed, records truncation and deletion, and
// returns how many bytes wait beyond FileOffset. Caller holds e.mu.
func (sh *Shipper) observe(ctx context.Context, e *entry, src Source) (int64, error) {
	if e.file == nil && !e.cp.Deleted {
		if err := sh.open(ctx, e, src); err != nil {
			return 0, err
		}
	}
	cp := e.cp
	if e.file == nil {
		return 0, nil
	}
	fi, err := e.file.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat open log: %w", err)
	}
	dirty := false
	if !cp.Deleted {
		pi, err := os.Stat(src.Path)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && !os.SameFile(fi, pi)) {
			cp.Deleted, dirty = true, true // keep reading the open descriptor
		}
	}
	if fi.Size() < cp.FileOffset {
		cp.Truncated, cp.FileOffset, dirty = true, 0, true
	}
	if dirty {
		if err := sh.save(ctx, e, src.Key, cp); err != nil {
			return 0, err
		}
	}
	return fi.Size() - cp.FileOffset, nil
}

// open opens the file at src.Path. A file that vanished after it was seen,
// or that is not the file the checkpoint was shipping (another FileID: it was
// deleted and recreated while logship was down), is recorded as Deleted and
// not read. Caller holds e.mu.
func (sh *Shipper) open(ctx context.Context, e *entry, src Source) error {
	cp := e.cp
	f, err := os.Open(src.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if e.seen || cp.Offset > 0 || cp.FileOffset > 0 {
			cp.Deleted = true
			return sh.save(ctx, e, src.Key, cp)
		}
		return nil // not created yet
	case err != nil:
		return fmt.Errorf("open log: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat log: %w", err)
	}
	id := fileID(fi)
	if (cp.FileID != "" && id != "" && id != cp.FileID) || !sameHead(f, cp) {
		f.Close()
		cp.Deleted = true
		return sh.save(ctx, e, src.Key, cp)
	}
	if cp.FileID != id {
		cp.FileID = id
		if err := sh.save(ctx, e, src.Key, cp); err != nil {
			f.Close()
			return err
		}
	}
	e.file, e.seen = f, true
	return nil
}

// sameHead reports whether the file starts with the bytes recorded in
// cp.Head. Inode numbers are reused at once by some file systems, so the
// FileID alone does not tell a recreated file from the original.
func sameHead(f *os.File, cp Checkpoint) bool {
	if cp.FileOffset == 0 || len(cp.Head) == 0 {
		return true
	}
	b := make([]byte, len(cp.Head))
	n, _ := f.ReadAt(b, 0)
	return bytes.Equal(b[:n], cp.Head)
}

// fileID identifies a file across restarts (device and inode), or "" where
// the platform does not tell.
func fileID(fi os.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
