package logship

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// TestFollowShipsWithinFiveSecondsAndSeals runs a writer appending 1,000
// lines over 20 s (200 over 4 s with -short) with the default timing: every
// line must be in COS within 5 s, and the sealed log byte-equal to the file.
func TestFollowShipsWithinFiveSecondsAndSeals(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "latency")
	n, d := 1000, 20*time.Second
	if testing.Short() {
		n, d = 200, 4*time.Second
	}
	opts := testOptions(t)
	opts.PollInterval, opts.FlushInterval = 0, 0 // the defaults
	sh := NewShipper(s, newMemCheckpoints(), opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	followed := make(chan error, 1)
	go func() { followed <- sh.Follow(ctx, src) }() // before the file exists, like a pending job

	time.Sleep(300 * time.Millisecond)
	app := newAppender(t, src.Path)
	stop := make(chan struct{})
	seenc := make(chan []time.Time)
	go func() { seenc <- watchLines(t, s, src, n, stop) }()
	app.run(t, n, d, false)
	time.AfterFunc(10*time.Second, func() { close(stop) })
	seen := <-seenc
	if len(seen) < n {
		t.Fatalf("only %d of %d lines reached COS", len(seen), n)
	}
	lags := make([]time.Duration, n)
	for i := range n {
		lags[i] = seen[i].Sub(app.at[i])
	}
	slices.Sort(lags)
	t.Logf("write-to-COS lag over %d lines: p50 %v p99 %v max %v", n, lags[n/2], lags[n*99/100], lags[n-1])
	if lags[n-1] > 5*time.Second {
		t.Errorf("max lag %v > 5s", lags[n-1])
	}

	app.write(t, "last line without newline\r")
	start := time.Now().Add(-d)
	m, err := sh.Seal(ctx, src, SealInfo{ExitCode: 3, State: "FAILED", StartTime: start, EndTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-followed; err != nil {
		t.Errorf("Follow after Seal = %v, want nil", err)
	}
	checkSealed(t, s, src, m, app.bytes())
	if m.Lines != int64(n+1) || m.ExitCode != 3 || m.State != "FAILED" || m.Truncated || m.Deleted || m.Missing {
		t.Errorf("manifest %+v", m)
	}
	again, err := sh.Seal(ctx, src, SealInfo{})
	if err != nil || again.SHA256 != m.SHA256 || again.ExitCode != 3 {
		t.Errorf("second Seal = %+v, %v; want the stored manifest", again, err)
	}
}

// watchLines polls the chunks and returns when each of n lines first appeared.
func watchLines(t testing.TB, s *Store, src Source, n int, stop <-chan struct{}) []time.Time {
	var seen []time.Time
	for len(seen) < n {
		select {
		case <-stop:
			return seen
		case <-time.After(100 * time.Millisecond):
		}
		now := time.Now()
		lines := 0
		for _, b := range shippedChunks(t, s, src) {
			if b == '\n' {
				lines++
			}
		}
		for len(seen) < lines {
			seen = append(seen, now)
		}
	}
	return seen
}

// TestRestartNeitherLosesNorRepeats crashes a shipper between a chunk put
// and its checkpoint, stops a second one by cancelling it, and lets a third
// finish: the sealed log must equal the file.
func TestRestartNeitherLosesNorRepeats(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "restart")
	app := newAppender(t, src.Path)
	written := make(chan struct{})
	go func() { app.run(t, 400, 6*time.Second, true); close(written) }()

	cps := newMemCheckpoints()
	ctx1, crash := context.WithCancel(context.Background())
	cps.beforeSave = func(n int, _ string, _ Checkpoint) error {
		if n == 3 {
			crash()
			return errors.New("gateway killed between put and checkpoint")
		}
		return nil
	}
	if err := NewShipper(s, cps, testOptions(t)).Follow(ctx1, src); !errors.Is(err, context.Canceled) {
		t.Fatalf("crashed Follow = %v", err)
	}
	cps.mu.Lock()
	cps.beforeSave = nil
	cp := cps.m[src.Key]
	cps.mu.Unlock()
	if keys := listKeys(t, s, src.chunkDir()); len(keys) != cp.NextChunk {
		t.Fatalf("after the crash: %d chunks stored, checkpoint next chunk %d; want one orphan", len(keys), cp.NextChunk)
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel2()
	if err := NewShipper(s, cps, testOptions(t)).Follow(ctx2, src); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stopped Follow = %v", err)
	}

	sh := NewShipper(s, cps, testOptions(t))
	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	go sh.Follow(ctx3, src)
	<-written
	m, err := sh.Seal(context.Background(), src, SealInfo{State: "COMPLETED"})
	if err != nil {
		t.Fatal(err)
	}
	checkSealed(t, s, src, m, app.bytes())
	if m.Lines != 400 {
		t.Errorf("lines = %d, want 400", m.Lines)
	}
}

// TestFiftySourcesAtOnce ships 50 logs written concurrently.
func TestFiftySourcesAtOnce(t *testing.T) {
	s := testStore(t)
	sh := NewShipper(s, newMemCheckpoints(), testOptions(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 50 {
		src := testSource(t, s, fmt.Sprintf("many%02d", i))
		app := newAppender(t, src.Path)
		wg.Add(1)
		go func() {
			defer wg.Done()
			go sh.Follow(ctx, src)
			app.run(t, 100, 3*time.Second, i%2 == 0)
			m, err := sh.Seal(ctx, src, SealInfo{State: "COMPLETED"})
			if err != nil {
				t.Errorf("seal %s: %v", src.Key, err)
				return
			}
			checkSealed(t, s, src, m, app.bytes())
		}()
	}
	wg.Wait()
}

// TestCOSOutageLosesNothing cuts the connection to MinIO mid-run (30 s, 5 s
// with -short): the backlog is shipped when it returns.
func TestCOSOutageLosesNothing(t *testing.T) {
	cfg := cosConfig(t)
	p := startProxy(t, cfg.Endpoint)
	cfg.Endpoint = p.addr()
	s, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src := testSource(t, s, "outage")
	outage := 30 * time.Second
	if testing.Short() {
		outage = 5 * time.Second
	}
	opts := testOptions(t)
	opts.MaxBackoff = 2 * time.Second
	opts.MaxChunk = 4 << 10 // the backlog needs several chunks
	sh := NewShipper(s, newMemCheckpoints(), opts)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	followed := make(chan error, 1)
	go func() { followed <- sh.Follow(ctx, src) }()
	app := newAppender(t, src.Path)
	app.run(t, 50, time.Second, false)
	p.setDown(true)
	app.run(t, 300, outage, false)
	p.setDown(false)
	app.run(t, 50, time.Second, true)
	select {
	case err := <-followed:
		t.Fatalf("Follow returned during the outage: %v", err)
	default:
	}
	p.setDown(true) // a seal during an outage fails, marks nothing, and is retried
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = sh.Seal(sctx, src, SealInfo{State: "COMPLETED"})
	scancel()
	if err == nil {
		t.Fatal("Seal succeeded while COS was unreachable")
	}
	p.setDown(false)
	m, err := sh.Seal(ctx, src, SealInfo{State: "COMPLETED"})
	if err != nil {
		t.Fatal(err)
	}
	checkSealed(t, s, src, m, app.bytes())
}

// TestStreamResumesByOffset disconnects a follower after 100 lines and
// resumes it from the last offset: lines and offsets match the file exactly.
func TestStreamResumesByOffset(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "stream")
	sh := NewShipper(s, newMemCheckpoints(), testOptions(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go sh.Follow(ctx, src)
	app := newAppender(t, src.Path)
	written := make(chan struct{})
	go func() { app.run(t, 300, 4*time.Second, true); close(written) }()

	var got []emitted
	collect := func(limit int) func(int64, []byte) error {
		return func(next int64, line []byte) error {
			got = append(got, emitted{next, string(line)})
			if len(got) == limit {
				return errDisconnect
			}
			return nil
		}
	}
	if err := sh.Stream(ctx, src, 0, collect(100)); !errors.Is(err, errDisconnect) {
		t.Fatalf("first Stream = %v", err)
	}
	resumed := make(chan error, 1)
	go func() { resumed <- sh.Stream(ctx, src, got[len(got)-1].next, collect(-1)) }()
	<-written
	if _, err := sh.Seal(ctx, src, SealInfo{}); err != nil {
		t.Fatal(err)
	}
	if err := <-resumed; err != nil {
		t.Fatalf("resumed Stream = %v, want nil at the sealed end", err)
	}
	want := splitAll(t, 0, []string{string(app.bytes())}, true)
	if len(got) != len(want) {
		t.Fatalf("streamed %d lines, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d: got %+v, want %+v", i, got[i], want[i])
		}
	}

	// After sealing, a follower resuming mid-log reads the sealed object.
	got = got[:0]
	if err := sh.Stream(ctx, src, want[149].next, collect(-1)); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want[150:]) {
		t.Errorf("stream of the sealed log from line 150: %d lines, want %d", len(got), len(want)-150)
	}
}

var errDisconnect = errors.New("client disconnected")

// TestChunkNamesSortNumerically checks the stored order is the log order.
func TestChunkNamesSortNumerically(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "order")
	opts := testOptions(t)
	opts.MaxChunk = 10 // many tiny chunks: 000000000009 before 000000000010
	sh := NewShipper(s, newMemCheckpoints(), opts)
	app := newAppender(t, src.Path)
	for i := range 25 {
		app.write(t, fmt.Sprintf("%02d-abcdef\n", i))
	}
	e := sh.acquire(src.Key)
	defer sh.release(src.Key, e)
	if _, err := sh.step(context.Background(), e, src, true); err != nil {
		t.Fatal(err)
	}
	keys := listKeys(t, s, src.chunkDir())
	if len(keys) != 25 || !sort.StringsAreSorted(keys) {
		t.Fatalf("chunks %v", keys)
	}
	if string(shippedChunks(t, s, src)) != string(app.bytes()) {
		t.Error("chunks in listing order differ from the file")
	}
}
