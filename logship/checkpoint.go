package logship

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// ErrNoCheckpoint is returned (possibly wrapped) by Checkpoints.Load when no
// checkpoint was saved for the key. logship treats it as "start at offset 0".
var ErrNoCheckpoint = errors.New("logship: no checkpoint")

// headLen is how many leading file bytes Checkpoint.Head keeps.
const headLen = 64

// ErrInvalidSource means a Source lacks a field or has a malformed Prefix.
var ErrInvalidSource = errors.New("logship: invalid source")

// Checkpoints persists shipping progress per source key (the task id). The
// caller implements it (SQLite in the gateway). Load must return an error
// wrapping ErrNoCheckpoint when nothing was saved for key — never a zero
// Checkpoint with a nil error. Save must be durable when it returns nil: a
// chunk counts as shipped only after Save succeeded. Both are called from
// several goroutines; Save is never called concurrently for the same key
// (within one Shipper — run one Shipper per source at a time), but Load
// (from Tail and Stream) may run alongside it.
type Checkpoints interface {
	Load(ctx context.Context, key string) (Checkpoint, error)
	Save(ctx context.Context, key string, cp Checkpoint) error
}

// Checkpoint is the durable shipping progress of one source. The caller stores
// it opaquely (e.g. as JSON in one column); only logship interprets it.
type Checkpoint struct {
	// Offset is the size of the shipped log: the bytes in committed chunks.
	// It is the byte offset used by Stream and by SSE Last-Event-ID.
	Offset int64 `json:"offset"`
	// FileOffset is where the next read of the file starts. It equals Offset
	// unless the file was truncated.
	FileOffset int64 `json:"file_offset"`
	// NextChunk is the number of the next chunk object (the first is 1).
	NextChunk int `json:"next_chunk"`
	// Newlines counts '\n' bytes in the shipped log.
	Newlines int64 `json:"newlines"`
	// LastByte is the last shipped byte (valid when Offset > 0); a log not
	// ending in '\n' has one more line than Newlines.
	LastByte byte `json:"last_byte"`
	// Hash is the marshalled SHA-256 state over the shipped log, so sealing
	// needs no second read of a GiB log.
	Hash []byte `json:"hash,omitempty"`
	// FileID identifies the file being shipped (device:inode), so a file
	// recreated at the same path while logship was down is not mixed in.
	FileID string `json:"file_id,omitempty"`
	// Head holds the first bytes (up to 64) of the file, checked with FileID
	// when the file is reopened after a restart.
	Head []byte `json:"head,omitempty"`
	// Truncated records that the file shrank below FileOffset at least once.
	Truncated bool `json:"truncated,omitempty"`
	// Deleted records that the file disappeared or was replaced.
	Deleted bool `json:"deleted,omitempty"`
	// Sealed means the sealed log and manifest are stored; nothing more is shipped.
	Sealed bool `json:"sealed,omitempty"`
}

// Lines returns the number of lines in the shipped log, counting a final line
// without '\n'.
func (cp Checkpoint) Lines() int64 {
	if cp.Offset > 0 && cp.LastByte != '\n' {
		return cp.Newlines + 1
	}
	return cp.Newlines
}

// hasher returns a SHA-256 hash resumed from cp.Hash.
func (cp Checkpoint) hasher() (hash.Hash, error) {
	h := sha256.New()
	if len(cp.Hash) == 0 {
		if cp.Offset != 0 {
			return nil, fmt.Errorf("checkpoint at offset %d has no hash state", cp.Offset)
		}
		return h, nil
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(cp.Hash); err != nil {
		return nil, fmt.Errorf("restore hash state: %w", err)
	}
	return h, nil
}

// advance returns cp after appending data as chunk cp.NextChunk.
func (cp Checkpoint) advance(data []byte) (Checkpoint, error) {
	h, err := cp.hasher()
	if err != nil {
		return cp, err
	}
	h.Write(data)
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return cp, fmt.Errorf("save hash state: %w", err)
	}
	next := cp
	next.Hash = state
	next.Offset += int64(len(data))
	next.FileOffset += int64(len(data))
	next.NextChunk++
	next.Newlines += int64(bytes.Count(data, []byte{'\n'}))
	if len(data) > 0 {
		next.LastByte = data[len(data)-1]
	}
	return next, nil
}

// sum returns the hex SHA-256 of the shipped log.
func (cp Checkpoint) sum() (string, error) {
	h, err := cp.hasher()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// Source is one task's log.
type Source struct {
	Key    string // task id: the Checkpoints key
	Path   string // the log file on HFS
	Prefix string // logs/<project>/<container>/<task>/ — must end in "/"
}

func (s Source) validate() error {
	var probs []string
	if s.Key == "" {
		probs = append(probs, "key is empty")
	}
	if s.Path == "" {
		probs = append(probs, "path is empty")
	}
	if s.Prefix == "" || !strings.HasSuffix(s.Prefix, "/") || strings.HasPrefix(s.Prefix, "/") {
		probs = append(probs, fmt.Sprintf("prefix %q must be relative and end in /", s.Prefix))
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalidSource, strings.Join(probs, "; "))
	}
	return nil
}

func (s Source) chunkDir() string      { return s.Prefix + "chunks/" }
func (s Source) chunkKey(n int) string { return fmt.Sprintf("%s%012d", s.chunkDir(), n) }
func (s Source) logKey() string        { return s.Prefix + "log" }
func (s Source) manifestKey() string   { return s.Prefix + "manifest.json" }
