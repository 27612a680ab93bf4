package logship

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// TestOneGiBLogInBoundedMemory ships a 1 GiB log written as fast as the disk
// allows, seals it, and checks the heap and the process's peak RSS stay under
// 100 MB. Gated: set BATCHGATE_BIG_TESTS=1 (needs ~3 GB of disk).
func TestOneGiBLogInBoundedMemory(t *testing.T) {
	if os.Getenv("BATCHGATE_BIG_TESTS") != "1" {
		t.Skip("set BATCHGATE_BIG_TESTS=1 to ship a 1 GiB log")
	}
	s := testStore(t)
	src := testSource(t, s, "big")
	const size = 1 << 30
	opts := testOptions(t)
	opts.PollInterval, opts.FlushInterval, opts.MaxChunk = 0, 0, 0 // production defaults
	sh := NewShipper(s, newMemCheckpoints(), opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var peakHeap atomic.Uint64
	stopSampling := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakHeap.Load() {
				peakHeap.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	go sh.Follow(ctx, src)
	start := time.Now()
	want := writeBigLog(t, src.Path, size)
	m, err := sh.Seal(ctx, src, SealInfo{State: "COMPLETED"})
	if err != nil {
		t.Fatal(err)
	}
	close(stopSampling)
	t.Logf("1 GiB: written and sealed in %v, %d chunks", time.Since(start), m.Chunks)
	if m.Size != size || m.SHA256 != want {
		t.Errorf("manifest size %d sha256 %s, want %d %s", m.Size, m.SHA256, size, want)
	}
	if got := hashObject(t, s, src.logKey()); got != want {
		t.Errorf("sealed object sha256 %s, want %s", got, want)
	}
	hwm := vmHWM(t)
	t.Logf("peak heap in use %d MiB, peak RSS %d MiB", peakHeap.Load()>>20, hwm>>20)
	if peakHeap.Load() > 100<<20 || hwm > 100<<20 {
		t.Errorf("memory over 100 MB: heap %d MiB, RSS %d MiB", peakHeap.Load()>>20, hwm>>20)
	}
}

// writeBigLog writes size bytes of numbered lines and returns their sha256.
func writeBigLog(t testing.TB, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	pad := strings.Repeat("abcdefghij", 20)
	line := make([]byte, 0, 256) // reused: the writer must not distort the heap figures
	var n int64
	for i := 0; n < size; i++ {
		line = strconv.AppendInt(line[:0], int64(i), 10)
		line = append(append(append(line, ' '), pad[:i%200]...), '\n')
		if int64(len(line)) > size-n {
			line = line[:size-n]
		}
		w.Write(line)
		n += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func hashObject(t testing.TB, s *Store, key string) string {
	t.Helper()
	obj, err := s.client.GetObject(context.Background(), s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	h := sha256.New()
	if _, err := io.Copy(h, obj); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// vmHWM returns the process's peak resident set size in bytes.
func vmHWM(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(string(v)), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
