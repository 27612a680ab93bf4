package logship

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
)

// ErrNoLog means no log bytes exist for the source yet: no checkpoint, no
// file, no sealed object.
var ErrNoLog = errors.New("logship: no log yet")

// maxLine bounds one line emitted by Stream; longer lines arrive in pieces.
const maxLine = 1 << 20

// checkpoint returns the current checkpoint of src: the in-process one when
// src is being shipped here, else the saved one (NextChunk 1 when none).
func (sh *Shipper) checkpoint(ctx context.Context, key string) (Checkpoint, error) {
	sh.mu.Lock()
	e := sh.entries[key]
	sh.mu.Unlock()
	if e != nil {
		e.mu.Lock()
		cp, ok := e.cp, e.loaded
		e.mu.Unlock()
		if ok {
			return cp, nil
		}
	}
	return sh.loadCheckpoint(ctx, key)
}

// Tail returns the last n bytes (n > 0) of src's log: from the file while the
// source is not sealed (from the shipped chunks when the file is gone), from
// the sealed object (a suffix-range GET) afterwards. Returns ErrNoLog when
// there is nothing yet.
func (sh *Shipper) Tail(ctx context.Context, src Source, n int64) ([]byte, error) {
	if err := src.validate(); err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, fmt.Errorf("tail of %d bytes: %w", n, ErrInvalidSource)
	}
	cp, err := sh.checkpoint(ctx, src.Key)
	if err != nil {
		return nil, err
	}
	if cp.Sealed {
		return sh.store.tailObject(ctx, src.logKey(), n)
	}
	b, err := tailFile(src.Path, n)
	if !errors.Is(err, fs.ErrNotExist) {
		return b, err
	}
	if cp.Offset == 0 {
		return nil, ErrNoLog
	}
	chunks, err := sh.store.chunks(ctx, src, cp, 0, 0)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	err = sh.store.copyRange(ctx, chunks, max(0, cp.Offset-n), cp.Offset, &buf)
	return buf.Bytes(), err
}

func tailFile(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat log: %w", err)
	}
	from := max(0, fi.Size()-n)
	b := make([]byte, fi.Size()-from)
	got, err := f.ReadAt(b, from)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read log: %w", err)
	}
	return b[:got], nil
}

func (s *Store) tailObject(ctx context.Context, key string, n int64) ([]byte, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(0, -n); err != nil {
		return nil, fmt.Errorf("range of %s: %w", key, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	var b []byte
	if err == nil {
		defer obj.Close()
		b, err = io.ReadAll(obj)
	}
	if minio.ToErrorResponse(err).Code == "InvalidRange" { // an empty object
		return []byte{}, nil
	}
	if err != nil {
		return nil, s.wrapMissing(err, "tail "+key, ErrNotSealed)
	}
	return b, nil
}

// Stream calls emit for every line of src's shipped log that starts at or
// after byte offset from, in order, then follows new lines as they are
// shipped (so they lag the file by the shipping delay, at most ~5 s). line
// excludes its '\n' (a '\r' before it is kept) and must not be retained; next
// is the byte offset just past the line — the SSE event id, and the from of a
// resumed Stream, which then neither misses nor repeats a line. A line longer
// than 1 MiB is emitted in pieces. A last line without '\n' is emitted only
// once the log is sealed. Stream returns nil after the last line of a sealed
// log, ctx's error when ctx is done, or emit's error.
func (sh *Shipper) Stream(ctx context.Context, src Source, from int64, emit func(next int64, line []byte) error) error {
	if err := src.validate(); err != nil {
		return err
	}
	sp := &splitter{pos: max(0, from), emit: emit}
	var chunks []chunkInfo // committed chunks seen so far
	for {
		cp, err := sh.checkpoint(ctx, src.Key)
		if err != nil {
			return err
		}
		if cp.Sealed {
			return sh.streamSealed(ctx, src, sp)
		}
		if cp.Offset > sp.read() {
			after, start := 0, int64(0)
			if len(chunks) > 0 {
				last := chunks[len(chunks)-1]
				after, start = last.n, last.start+last.size
			}
			more, err := sh.store.chunks(ctx, src, cp, after, start)
			if err == nil {
				chunks = append(chunks, more...)
				err = sh.store.copyRange(ctx, chunks, sp.read(), cp.Offset, sp)
			}
			if err != nil && !isNoSuchKey(errors.Unwrap(err)) && !errors.Is(err, ErrIntegrity) {
				return err
			} // a chunk vanished: the log was sealed meanwhile; the next round reads it
			if err == nil {
				continue
			}
		}
		t := time.NewTimer(sh.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (sh *Shipper) streamSealed(ctx context.Context, src Source, sp *splitter) error {
	opts := minio.GetObjectOptions{}
	if sp.read() > 0 {
		if err := opts.SetRange(sp.read(), 0); err != nil {
			return fmt.Errorf("range of %s: %w", src.logKey(), err)
		}
	}
	obj, err := sh.store.client.GetObject(ctx, sh.store.bucket, src.logKey(), opts)
	if err == nil {
		defer obj.Close()
		_, err = io.Copy(sp, bufio.NewReaderSize(obj, 64<<10))
	}
	if err != nil && minio.ToErrorResponse(err).Code != "InvalidRange" { // InvalidRange: from >= size
		return fmt.Errorf("stream %s: %w", src.logKey(), err)
	}
	return sp.flush()
}

// splitter turns log bytes into lines with exact offsets. It is an io.Writer
// so chunk and object readers can copy into it.
type splitter struct {
	pos  int64  // log offset of the first byte of buf
	buf  []byte // an incomplete line
	emit func(next int64, line []byte) error
}

// read returns the log offset up to which bytes were consumed.
func (s *splitter) read() int64 { return s.pos + int64(len(s.buf)) }

func (s *splitter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 || i > maxLine-len(s.buf) {
			take := min(len(p), maxLine-len(s.buf))
			s.buf = append(s.buf, p[:take]...)
			p = p[take:]
			if len(s.buf) == maxLine {
				if err := s.flush(); err != nil {
					return 0, err
				}
			}
			continue
		}
		var line []byte
		if len(s.buf) > 0 {
			s.buf = append(s.buf, p[:i]...)
			line = s.buf
		} else {
			line = p[:i]
		}
		s.pos += int64(len(line)) + 1
		s.buf = s.buf[:0]
		if err := s.emit(s.pos, line); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// flush emits an incomplete line as it is.
func (s *splitter) flush() error {
	if len(s.buf) == 0 {
		return nil
	}
	s.pos += int64(len(s.buf))
	line := s.buf
	s.buf = s.buf[:0]
	return s.emit(s.pos, line)
}
