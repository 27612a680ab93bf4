package logship

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// memCheckpoints is an in-memory Checkpoints. beforeSave, when set, runs
// before each save and may fail it (to simulate a crash after a put).
type memCheckpoints struct {
	mu         sync.Mutex
	m          map[string]Checkpoint
	saves      int
	beforeSave func(n int, key string, cp Checkpoint) error
}

func newMemCheckpoints() *memCheckpoints { return &memCheckpoints{m: map[string]Checkpoint{}} }

func (c *memCheckpoints) Load(_ context.Context, key string) (Checkpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.m[key]
	if !ok {
		return Checkpoint{}, fmt.Errorf("load %s: %w", key, ErrNoCheckpoint)
	}
	cp.Hash = bytes.Clone(cp.Hash)
	return cp, nil
}

func (c *memCheckpoints) Save(_ context.Context, key string, cp Checkpoint) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.saves++
	if c.beforeSave != nil {
		if err := c.beforeSave(c.saves, key, cp); err != nil {
			return err
		}
	}
	cp.Hash = bytes.Clone(cp.Hash)
	c.m[key] = cp
	return nil
}

func TestCheckpointAdvanceMatchesWholeHash(t *testing.T) {
	parts := [][]byte{[]byte("a\r\nb"), []byte("c\n"), {}, []byte("\xff\xfe no newline")}
	cp := Checkpoint{NextChunk: 1}
	var all []byte
	for _, p := range parts {
		var err error
		if cp, err = cp.advance(p); err != nil {
			t.Fatal(err)
		}
		all = append(all, p...)
	}
	sum, err := cp.sum()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%x", sha256.Sum256(all)); sum != want {
		t.Errorf("sum = %s, want %s", sum, want)
	}
	if cp.Offset != int64(len(all)) || cp.FileOffset != cp.Offset || cp.NextChunk != 5 {
		t.Errorf("offset %d file offset %d next chunk %d", cp.Offset, cp.FileOffset, cp.NextChunk)
	}
	if got := cp.Lines(); got != 3 { // "a\r", "bc", final line without newline
		t.Errorf("lines = %d, want 3", got)
	}
}

func TestCheckpointLines(t *testing.T) {
	for _, tc := range []struct {
		data string
		want int64
	}{{"", 0}, {"\n", 1}, {"a", 1}, {"a\nb\n", 2}, {"a\nb", 2}} {
		cp, err := Checkpoint{}.advance([]byte(tc.data))
		if err != nil {
			t.Fatal(err)
		}
		if got := cp.Lines(); got != tc.want {
			t.Errorf("Lines(%q) = %d, want %d", tc.data, got, tc.want)
		}
	}
}

func TestCheckpointWithoutHashState(t *testing.T) {
	if _, err := (Checkpoint{Offset: 10}).advance([]byte("x")); err == nil {
		t.Fatal("advance of a checkpoint with offset but no hash state succeeded")
	}
}

func TestChunkKeysSortNumerically(t *testing.T) {
	src := Source{Key: "t", Path: "/x", Prefix: "logs/p/c/t/"}
	prev := ""
	for _, n := range []int{1, 2, 9, 10, 99, 100, 999999, 1000000, 123456789012} {
		k := src.chunkKey(n)
		if k <= prev {
			t.Errorf("chunk %d key %q sorts before %q", n, k, prev)
		}
		prev = k
	}
	if got := src.chunkKey(1); got != "logs/p/c/t/chunks/000000000001" {
		t.Errorf("chunkKey(1) = %q", got)
	}
}

func TestSourceValidate(t *testing.T) {
	err := Source{Prefix: "/abs"}.validate()
	if !errors.Is(err, ErrInvalidSource) {
		t.Fatalf("err = %v, want ErrInvalidSource", err)
	}
	for _, want := range []string{"key is empty", "path is empty", "must be relative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := (Source{Key: "1", Path: "/x", Prefix: "logs/a/b/1/"}).validate(); err != nil {
		t.Errorf("valid source: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	_, err := NewStore(COSConfig{Endpoint: "http://x:9000", RetentionDays: -1})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	for _, want := range []string{"without a scheme", "bucket is empty", "negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := NewStore(COSConfig{Endpoint: "127.0.0.1:9000", Bucket: "b"}); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestCanCompose(t *testing.T) {
	big, small := int64(composeMinPart), int64(composeMinPart-1)
	mk := func(sizes ...int64) []chunkInfo {
		var cs []chunkInfo
		for _, s := range sizes {
			cs = append(cs, chunkInfo{size: s})
		}
		return cs
	}
	for _, tc := range []struct {
		chunks []chunkInfo
		want   bool
	}{
		{mk(), false}, {mk(small), true}, {mk(big, big, small), true},
		{mk(big, small, big), false}, {mk(small, big), false},
	} {
		if got := canCompose(tc.chunks); got != tc.want {
			t.Errorf("canCompose(%v) = %v, want %v", tc.chunks, got, tc.want)
		}
	}
}

type emitted struct {
	next int64
	line string
}

func splitAll(t *testing.T, from int64, writes []string, flush bool) []emitted {
	t.Helper()
	var got []emitted
	sp := &splitter{pos: from, emit: func(next int64, line []byte) error {
		got = append(got, emitted{next, string(line)})
		return nil
	}}
	for _, w := range writes {
		if _, err := sp.Write([]byte(w)); err != nil {
			t.Fatal(err)
		}
	}
	if flush {
		if err := sp.flush(); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func TestSplitterOffsets(t *testing.T) {
	got := splitAll(t, 100, []string{"ab", "c\r\nde\n\nf", "g"}, false)
	want := []emitted{{105, "abc\r"}, {108, "de"}, {109, ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got = splitAll(t, 0, []string{"x\nlast"}, true)
	want = []emitted{{2, "x"}, {6, "last"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("with flush: got %v, want %v", got, want)
	}
}

func TestSplitterLongLine(t *testing.T) {
	long := strings.Repeat("x", maxLine+10) + "\n"
	got := splitAll(t, 0, []string{long[:maxLine-5], long[maxLine-5:]}, false)
	if len(got) != 2 || len(got[0].line) != maxLine || got[0].next != maxLine ||
		got[1].line != strings.Repeat("x", 10) || got[1].next != int64(len(long)) {
		t.Errorf("long line split wrong: %d pieces", len(got))
	}
}

func TestSplitterEmitErrorStops(t *testing.T) {
	stop := errors.New("client gone")
	calls := 0
	sp := &splitter{emit: func(int64, []byte) error { calls++; return stop }}
	if _, err := sp.Write([]byte("a\nb\n")); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("err = %v after %d calls, want client gone after 1", err, calls)
	}
}
