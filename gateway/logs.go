package gateway

import (
	"context"
	"time"
)

// DefaultLogTailKiB is how much of a log a quick look shows.
const DefaultLogTailKiB = 64

// maxLogTailKiB bounds one quick look; longer logs are downloaded.
const maxLogTailKiB = 1024

// downloadTTL is how long a log download link works.
const downloadTTL = 15 * time.Minute

// TaskLogTail returns the last kib KiB of the log of a task p may see: from HFS while it runs,
// from COS once sealed.
func (s *Service) TaskLogTail(ctx context.Context, p Principal, id string, kib int) ([]byte, error) {
	if kib < 1 || kib > maxLogTailKiB {
		return nil, (&Problems{{Field: "tail", Detail: "must be 1 to 1024 (KiB)"}}).Err("bad log request")
	}
	t, err := s.GetTask(ctx, p, id)
	if err != nil {
		return nil, err
	}
	return s.logs.Tail(ctx, t, int64(kib)<<10)
}

// TaskLogStream emits the complete lines of a task's log from byte offset from, each with the
// offset just past it (a client resumes from the last one it saw), until the log is sealed and
// fully emitted, or ctx ends. It returns the task as it stood when the stream ended.
func (s *Service) TaskLogStream(ctx context.Context, p Principal, id string, from int64, emit func(next int64, line []byte) error) (*Task, error) {
	if from < 0 {
		return nil, (&Problems{{Field: "Last-Event-ID", Detail: "must be a byte offset, 0 or more"}}).Err("bad log request")
	}
	t, err := s.GetTask(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if err := s.logs.Stream(ctx, t, from, emit); err != nil {
		return nil, err
	}
	return s.store.Task(ctx, id)
}

// TaskLogDownload returns a short-lived URL of the sealed log of a task p may see, and when it
// expires. CodeConflict while the log is not sealed yet.
func (s *Service) TaskLogDownload(ctx context.Context, p Principal, id string) (string, time.Time, error) {
	t, err := s.GetTask(ctx, p, id)
	if err != nil {
		return "", time.Time{}, err
	}
	if !t.LogSealed {
		return "", time.Time{}, Errorf(CodeConflict, "the log is not sealed yet: it can be downloaded once the task has ended")
	}
	u, err := s.logs.DownloadURL(ctx, t, downloadTTL)
	return u, s.cfg.Now().Add(downloadTTL), err
}
