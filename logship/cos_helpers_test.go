package logship

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
)

// cosConfig returns the dev cluster's COS config, skipping the test when the
// environment does not name one.
func cosConfig(t testing.TB) COSConfig {
	t.Helper()
	ep := os.Getenv("BATCHGATE_COS_ENDPOINT")
	if ep == "" {
		t.Skip("BATCHGATE_COS_ENDPOINT unset: run `eval \"$(scripts/devcluster env)\"` to test against the dev cluster's MinIO")
	}
	return COSConfig{
		Endpoint:  ep,
		AccessKey: os.Getenv("BATCHGATE_COS_ACCESS_KEY"),
		SecretKey: os.Getenv("BATCHGATE_COS_SECRET_KEY"),
		Bucket:    os.Getenv("BATCHGATE_COS_BUCKET"),
		Region:    "us-east-1",
	}
}

func testStore(t testing.TB) *Store {
	t.Helper()
	s, err := NewStore(cosConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// testSource returns a source with a file path in a temp dir and a unique
// prefix whose objects are removed after the test.
func testSource(t testing.TB, s *Store, name string) Source {
	t.Helper()
	key := fmt.Sprintf("%s-%d", name, time.Now().UnixNano())
	src := Source{
		Key:    key,
		Path:   filepath.Join(t.TempDir(), key+".log"),
		Prefix: "logs/logship-test/" + strings.ReplaceAll(t.Name(), "/", "_") + "/" + key + "/",
	}
	t.Cleanup(func() { removePrefix(s, src.Prefix) })
	return src
}

func removePrefix(s *Store, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	objs := s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true})
	for range s.client.RemoveObjects(ctx, s.bucket, objs, minio.RemoveObjectsOptions{}) {
	}
}

func testOptions(t testing.TB) Options {
	return Options{
		PollInterval:  200 * time.Millisecond,
		FlushInterval: time.Second,
		MaxChunk:      1 << 20,
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func getObject(t testing.TB, s *Store, key string) []byte {
	t.Helper()
	obj, err := s.client.GetObject(context.Background(), s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	b, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

// listKeys lists the object names under prefix.
func listKeys(t testing.TB, s *Store, prefix string) []string {
	t.Helper()
	var keys []string
	for obj := range s.client.ListObjects(context.Background(), s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, strings.TrimPrefix(obj.Key, prefix))
	}
	return keys
}

// shippedChunks concatenates the chunk objects stored under src.
func shippedChunks(t testing.TB, s *Store, src Source) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, k := range listKeys(t, s, src.chunkDir()) {
		obj, err := s.client.GetObject(context.Background(), s.bucket, src.chunkDir()+k, minio.GetObjectOptions{})
		if err != nil {
			continue
		}
		if _, err := buf.ReadFrom(obj); err != nil { // removed meanwhile
			obj.Close()
			continue
		}
		obj.Close()
	}
	return buf.Bytes()
}

// checkSealed asserts that src is sealed byte-equal to want, with a correct
// manifest and no chunks left.
func checkSealed(t testing.TB, s *Store, src Source, m Manifest, want []byte) {
	t.Helper()
	got := getObject(t, s, src.logKey())
	if !bytes.Equal(got, want) {
		t.Fatalf("sealed log differs: %d bytes, want %d (first diff at %d)", len(got), len(want), firstDiff(got, want))
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(want))
	if m.SHA256 != sum || m.Size != int64(len(want)) {
		t.Errorf("manifest size %d sha256 %s, want %d %s", m.Size, m.SHA256, len(want), sum)
	}
	stored, err := s.ReadManifest(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if stored.SHA256 != sum || stored.Lines != m.Lines {
		t.Errorf("stored manifest %+v differs from returned %+v", stored, m)
	}
	if left := listKeys(t, s, src.chunkDir()); len(left) > 0 {
		t.Errorf("%d chunks left after seal", len(left))
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// appender writes lines to a file and remembers when each line was complete.
type appender struct {
	f       *os.File
	mu      sync.Mutex
	written [][]byte
	at      []time.Time
}

func newAppender(t testing.TB, path string) *appender {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &appender{f: f}
}

func (a *appender) write(t testing.TB, line string) {
	t.Helper()
	if _, err := a.f.WriteString(line); err != nil {
		t.Error(err)
		return
	}
	a.mu.Lock()
	a.written = append(a.written, []byte(line))
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
}

// run writes n lines spread over d; the last has no newline when partial.
func (a *appender) run(t testing.TB, n int, d time.Duration, partial bool) {
	for i := range n {
		line := fmt.Sprintf("line %05d %s\n", i, strings.Repeat("x", i%97))
		if i%10 == 3 {
			line = strings.TrimSuffix(line, "\n") + "\r\n"
		}
		if partial && i == n-1 {
			line = strings.TrimSuffix(line, "\n")
		}
		a.write(t, line)
		time.Sleep(d / time.Duration(n))
	}
}

func (a *appender) bytes() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return bytes.Join(a.written, nil)
}

// proxy forwards TCP to target and can be cut, to make COS unreachable
// without stopping the shared MinIO.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// setDown cuts all connections and refuses new ones while down.
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
