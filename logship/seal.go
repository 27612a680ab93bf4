package logship

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
)

// SealInfo is what the caller knows about the ended task.
type SealInfo struct {
	ExitCode  int
	State     string // the task's final state, e.g. COMPLETED, FAILED
	StartTime time.Time
	EndTime   time.Time
}

// Manifest describes a sealed log; it is stored as PREFIX manifest.json.
type Manifest struct {
	Key       string    `json:"task"`
	Object    string    `json:"object"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Lines     int64     `json:"lines"`
	ExitCode  int       `json:"exit_code"`
	State     string    `json:"state"`
	StartTime time.Time `json:"start_time"`
	EndTime   time.Time `json:"end_time"`
	SealedAt  time.Time `json:"sealed_at"`
	Chunks    int       `json:"chunks"`
	// Truncated: the file shrank while shipped; the log holds the bytes read
	// before and after, so it is not equal to the final file.
	Truncated bool `json:"truncated"`
	// Deleted: the file was removed or replaced while shipped.
	Deleted bool `json:"deleted"`
	// Missing: the file never appeared; the log is empty.
	Missing bool `json:"missing"`
}

// Seal ships the rest of src's file (up to its current end, including a last
// line without '\n'), stores the whole log as one object PREFIX log and a
// Manifest as PREFIX manifest.json, saves a Sealed checkpoint, stops a running
// Follow of src, and removes the chunks. Call it once the task has ended;
// Seal itself first waits (at most settleRounds PollIntervals) until the
// file's size holds still for one PollInterval, since a job's last writes
// on another node may show up late on a shared file system. Seal is idempotent: on a sealed source it returns
// the stored manifest (and retries chunk removal). On error nothing is marked
// sealed and Seal may be called again; errors wrap ErrIntegrity when the
// chunks do not match the checkpoint.
func (sh *Shipper) Seal(ctx context.Context, src Source, info SealInfo) (Manifest, error) {
	if err := src.validate(); err != nil {
		return Manifest{}, err
	}
	if err := sh.settle(ctx, src); err != nil {
		return Manifest{}, err
	}
	e := sh.acquire(src.Key)
	defer sh.release(src.Key, e)
	if _, err := sh.step(ctx, e, src, true); err != nil {
		return Manifest{}, err
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cp.Sealed {
		m, err := sh.store.readManifest(ctx, src)
		if err == nil {
			sh.removeChunks(ctx, src)
		}
		return m, err
	}
	cp := e.cp
	chunks, err := sh.store.chunks(ctx, src, cp, 0, 0)
	if err != nil {
		return Manifest{}, err
	}
	if err := sh.store.writeLog(ctx, src, cp, chunks); err != nil {
		return Manifest{}, err
	}
	sum, err := cp.sum()
	if err != nil {
		return Manifest{}, err
	}
	m := Manifest{
		Key: src.Key, Object: src.logKey(), Size: cp.Offset, SHA256: sum, Lines: cp.Lines(),
		ExitCode: info.ExitCode, State: info.State, StartTime: info.StartTime, EndTime: info.EndTime,
		SealedAt: sh.opts.Now().UTC(), Chunks: len(chunks),
		Truncated: cp.Truncated, Deleted: cp.Deleted, Missing: !e.seen && cp.Offset == 0 && !cp.Deleted,
	}
	if err := sh.store.writeManifest(ctx, src, m); err != nil {
		return Manifest{}, err
	}
	cp.Sealed = true
	if err := sh.save(ctx, e, src.Key, cp); err != nil {
		return Manifest{}, err
	}
	e.sealOnce.Do(func() { close(e.sealed) })
	sh.removeChunks(ctx, src)
	return m, nil
}

// settleRounds bounds how many PollIntervals Seal waits for a growing file.
const settleRounds = 5

// settle waits until the size of src's file is unchanged over one
// PollInterval, for at most settleRounds intervals. A missing file is settled.
func (sh *Shipper) settle(ctx context.Context, src Source) error {
	prev := int64(-1)
	for range settleRounds {
		fi, err := os.Stat(src.Path)
		if err != nil || fi.Size() == prev {
			return nil
		}
		prev = fi.Size()
		t := time.NewTimer(sh.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// removeChunks is cleanup after a durable seal: a failure leaves garbage that
// the next Seal call (or the retention rule) removes, so it is only logged.
func (sh *Shipper) removeChunks(ctx context.Context, src Source) {
	if err := sh.store.removeChunks(ctx, src); err != nil {
		sh.opts.Logger.Warn("removing log chunks failed", "task", src.Key, "err", err)
	}
}

func (s *Store) writeManifest(ctx context.Context, src Source, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	_, err = s.client.PutObject(ctx, s.bucket, src.manifestKey(), bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: "application/json"})
	if err != nil {
		return fmt.Errorf("put %s: %w", src.manifestKey(), err)
	}
	return nil
}

// ReadManifest returns the stored manifest of a sealed source, or an error
// wrapping ErrNotSealed.
func (s *Store) ReadManifest(ctx context.Context, src Source) (Manifest, error) {
	if err := src.validate(); err != nil {
		return Manifest{}, err
	}
	return s.readManifest(ctx, src)
}

func (s *Store) readManifest(ctx context.Context, src Source) (Manifest, error) {
	var buf bytes.Buffer
	obj, err := s.client.GetObject(ctx, s.bucket, src.manifestKey(), minio.GetObjectOptions{})
	if err == nil {
		defer obj.Close()
		_, err = buf.ReadFrom(obj)
	}
	if err != nil {
		return Manifest{}, s.wrapMissing(err, "get manifest", ErrNotSealed)
	}
	var m Manifest
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		return Manifest{}, fmt.Errorf("decode %s: %w", src.manifestKey(), err)
	}
	return m, nil
}
