package logship

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// benchFile returns a log file of BATCHGATE_BENCH_MB MiB (default 64),
// shared by both benchmarks so their MB/s compare the same bytes.
func benchFile(b *testing.B) (string, int64) {
	b.Helper()
	size := benchBytes()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("logship-bench-%d.log", size>>20))
	if fi, err := os.Stat(path); err != nil || fi.Size() != size {
		writeBigLog(b, path, size)
	}
	b.SetBytes(size)
	return path, size
}

// BenchmarkShip measures shipping: a finished log from offset 0 into
// committed chunk objects (reads, SHA-256, puts, checkpoints) — the rate at
// which a backlog reaches COS. Compare its MB/s with BenchmarkPutObjectBaseline.
func BenchmarkShip(b *testing.B) {
	s := testStore(b)
	path, _ := benchFile(b)
	ctx := context.Background()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		src := Source{Key: fmt.Sprintf("bench-%d", i), Path: path, Prefix: fmt.Sprintf("logs/logship-bench/ship-%d/", i)}
		sh := NewShipper(s, newMemCheckpoints(), Options{})
		e := sh.acquire(src.Key)
		if _, err := sh.step(ctx, e, src, true); err != nil {
			b.Fatal(err)
		}
		sh.release(src.Key, e)
	}
	b.StopTimer()
	removePrefix(s, "logs/logship-bench/")
}

// BenchmarkShipAndSeal measures the whole way from a finished file to a sealed
// object: shipping, then compose (or concatenation), manifest, chunk removal.
// PollInterval is 10 ms so Seal's settle wait (one PollInterval) stays small.
func BenchmarkShipAndSeal(b *testing.B) {
	s := testStore(b)
	path, _ := benchFile(b)
	ctx := context.Background()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		src := Source{Key: fmt.Sprintf("bench-%d", i), Path: path, Prefix: fmt.Sprintf("logs/logship-bench/seal-%d/", i)}
		sh := NewShipper(s, newMemCheckpoints(), Options{PollInterval: 10 * time.Millisecond})
		if _, err := sh.Seal(ctx, src, SealInfo{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	removePrefix(s, "logs/logship-bench/")
}

// BenchmarkPutObjectBaseline uploads the same file with one plain minio-go
// PutObject: the ceiling BenchmarkShip is compared with.
func BenchmarkPutObjectBaseline(b *testing.B) {
	s := testStore(b)
	path, size := benchFile(b)
	ctx := context.Background()
	defer reportCPU(b)()
	for i := 0; b.Loop(); i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		_, err = s.client.PutObject(ctx, s.bucket, fmt.Sprintf("logs/logship-bench/put-%d/log", i), f, size,
			minio.PutObjectOptions{ContentType: logContentType})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	removePrefix(s, "logs/logship-bench/")
}

// reportCPU reports this process's CPU seconds (user+system) per GiB moved;
// the MinIO server's own CPU is not included.
func reportCPU(b *testing.B) func() {
	before := cpuTime()
	return func() {
		gib := float64(b.N) * float64(benchBytes()) / (1 << 30)
		if gib > 0 {
			b.ReportMetric((cpuTime()-before).Seconds()/gib, "cpu-s/GiB")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchBytes is the benchmark file's size: BATCHGATE_BENCH_MB MiB, default 64.
func benchBytes() int64 {
	mb, _ := strconv.Atoi(os.Getenv("BATCHGATE_BENCH_MB"))
	if mb <= 0 {
		mb = 64
	}
	return int64(mb) << 20
}
