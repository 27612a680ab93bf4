package logship

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/minio/minio-go/v7"
)

// ErrIntegrity means the chunk objects do not add up to the checkpoint (a
// chunk is missing, has the wrong size, or the bytes hash differently).
var ErrIntegrity = errors.New("logship: chunks do not match checkpoint")

const (
	// composeMinPart is S3's minimum size of every composed source but the last.
	composeMinPart = 5 << 20
	// composeMaxSources is S3's limit on parts of one object.
	composeMaxSources = 10000
	// sealPartSize bounds the memory of a streamed seal (minio-go buffers one part).
	sealPartSize   = 16 << 20
	logContentType = "text/plain"
)

// chunkInfo is one stored chunk object and where it sits in the log.
type chunkInfo struct {
	n     int
	key   string
	start int64
	size  int64
}

func (s *Store) putChunk(ctx context.Context, src Source, n int, data []byte) error {
	key := src.chunkKey(n)
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: logContentType, DisableContentSha256: true})
	if err != nil {
		return fmt.Errorf("put chunk %s: %w", key, err)
	}
	return nil
}

// chunks lists the committed chunks 1..cp.NextChunk-1 after the chunk named
// after (0 for all), placing them from start. Chunks past the checkpoint (a
// put whose checkpoint was never saved) are ignored.
func (s *Store) chunks(ctx context.Context, src Source, cp Checkpoint, after int, start int64) ([]chunkInfo, error) {
	opts := minio.ListObjectsOptions{Prefix: src.chunkDir()}
	if after > 0 {
		opts.StartAfter = src.chunkKey(after)
	}
	ctx, cancel := context.WithCancel(ctx) // stops the lister on an early return
	defer cancel()
	var out []chunkInfo
	want := after + 1
	for obj := range s.client.ListObjects(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return nil, fmt.Errorf("list chunks of %s: %w", src.Prefix, obj.Err)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(obj.Key, src.chunkDir()))
		if err != nil || n >= cp.NextChunk {
			continue
		}
		if n != want {
			return nil, fmt.Errorf("%w: %s: chunk %d missing", ErrIntegrity, src.Prefix, want)
		}
		out = append(out, chunkInfo{n: n, key: obj.Key, start: start, size: obj.Size})
		start += obj.Size
		want++
	}
	if want != cp.NextChunk && after < cp.NextChunk-1 {
		return nil, fmt.Errorf("%w: %s: chunk %d missing", ErrIntegrity, src.Prefix, want)
	}
	return out, nil
}

// copyRange writes log bytes [from, to) held by chunks to w.
func (s *Store) copyRange(ctx context.Context, chunks []chunkInfo, from, to int64, w io.Writer) error {
	for _, c := range chunks {
		lo, hi := max(from, c.start), min(to, c.start+c.size)
		if lo >= hi {
			continue
		}
		if err := s.copyObject(ctx, c.key, lo-c.start, hi-c.start, w); err != nil {
			return err
		}
	}
	return nil
}

// copyObject writes bytes [lo, hi) of object key to w.
func (s *Store) copyObject(ctx context.Context, key string, lo, hi int64, w io.Writer) error {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(lo, hi-1); err != nil {
		return fmt.Errorf("range of %s: %w", key, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, opts)
	if err != nil {
		return fmt.Errorf("get %s: %w", key, err)
	}
	defer obj.Close()
	n, err := io.Copy(w, obj)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	if n != hi-lo {
		return fmt.Errorf("%w: %s gave %d bytes, want %d", ErrIntegrity, key, n, hi-lo)
	}
	return nil
}

// writeLog stores the sealed log object from the chunks: server-side compose
// when S3 allows it, else the chunks streamed through a pipe into one
// PutObject, verified against the checkpoint's SHA-256 on the way.
func (s *Store) writeLog(ctx context.Context, src Source, cp Checkpoint, chunks []chunkInfo) error {
	var total int64
	for _, c := range chunks {
		total += c.size
	}
	if total != cp.Offset {
		return fmt.Errorf("%w: %s: chunks hold %d bytes, checkpoint %d", ErrIntegrity, src.Prefix, total, cp.Offset)
	}
	if canCompose(chunks) {
		dst := minio.CopyDestOptions{Bucket: s.bucket, Object: src.logKey(),
			ReplaceMetadata: true, ContentType: logContentType, NumThreads: 4}
		srcs := make([]minio.CopySrcOptions, len(chunks))
		for i, c := range chunks {
			srcs[i] = minio.CopySrcOptions{Bucket: s.bucket, Object: c.key}
		}
		if _, err := s.client.ComposeObject(ctx, dst, srcs...); err != nil {
			return fmt.Errorf("compose %s: %w", src.logKey(), err)
		}
		return nil
	}
	want, err := cp.sum()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		h := sha256.New()
		err := s.copyRange(ctx, chunks, 0, total, io.MultiWriter(pw, h))
		if err == nil && fmt.Sprintf("%x", h.Sum(nil)) != want {
			err = fmt.Errorf("%w: %s: sha256 differs", ErrIntegrity, src.Prefix)
		}
		pw.CloseWithError(err)
	}()
	_, err = s.client.PutObject(ctx, s.bucket, src.logKey(), pr, total, minio.PutObjectOptions{
		ContentType: logContentType, PartSize: sealPartSize, DisableContentSha256: true,
	})
	pr.CloseWithError(errors.New("seal put ended")) // unblocks the copier on a failed put
	if err != nil {
		return fmt.Errorf("put %s: %w", src.logKey(), err)
	}
	return nil
}

// canCompose reports whether S3 can compose the chunks server-side: at least
// one, at most composeMaxSources, and all but the last >= 5 MiB.
func canCompose(chunks []chunkInfo) bool {
	if len(chunks) == 0 || len(chunks) > composeMaxSources {
		return false
	}
	for _, c := range chunks[:len(chunks)-1] {
		if c.size < composeMinPart {
			return false
		}
	}
	return true
}

// removeChunks deletes every object under the chunk prefix, committed or not.
func (s *Store) removeChunks(ctx context.Context, src Source) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objs := s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: src.chunkDir()})
	for res := range s.client.RemoveObjects(ctx, s.bucket, objs, minio.RemoveObjectsOptions{}) {
		if res.Err != nil {
			return fmt.Errorf("remove chunk %s: %w", res.ObjectName, res.Err)
		}
	}
	return nil
}

// RemovePrefix deletes every object whose key starts with prefix (which must end in "/", so a
// typo cannot empty the bucket). It is for tools that ship test logs, such as the project's
// bench, to clean up after themselves; the gateway never calls it. Errors: the first failed
// removal, or ErrInvalidSource for a prefix not ending in "/".
func (s *Store) RemovePrefix(ctx context.Context, prefix string) error {
	if prefix == "" || !strings.HasSuffix(prefix, "/") {
		return fmt.Errorf("%w: prefix %q must end in /", ErrInvalidSource, prefix)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objs := s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	for res := range s.client.RemoveObjects(ctx, s.bucket, objs, minio.RemoveObjectsOptions{}) {
		if res.Err != nil {
			return fmt.Errorf("remove %s: %w", res.ObjectName, res.Err)
		}
	}
	return nil
}
