package logship

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Options tunes a Shipper. Zero values take the documented defaults.
type Options struct {
	// PollInterval is how often a followed file is stat()ed. Default 1 s.
	PollInterval time.Duration
	// FlushInterval is the longest pending bytes wait for a put once seen, so
	// a byte reaches COS within about PollInterval+FlushInterval+one put.
	// Default 2 s; keep PollInterval+FlushInterval under 5 s.
	FlushInterval time.Duration
	// MaxChunk caps one chunk object (and one read buffer). Default 8 MiB.
	MaxChunk int
	// MaxConcurrentPuts bounds chunk buffers in use at once across all
	// sources, and so the Shipper's memory. Default 4.
	MaxConcurrentPuts int
	// MaxBackoff caps the retry delay while COS fails. Default 30 s.
	MaxBackoff time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives retry warnings. Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 2 * time.Second
	}
	if o.MaxChunk <= 0 {
		o.MaxChunk = 8 << 20
	}
	if o.MaxConcurrentPuts <= 0 {
		o.MaxConcurrentPuts = 4
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Shipper follows log files and ships them to a Store. It is safe for
// concurrent use; Follow, Seal, Tail and Stream may run at once for the same
// source (shipping steps of one source are serialized).
type Shipper struct {
	store *Store
	cps   Checkpoints
	opts  Options
	bufs  chan []byte // MaxConcurrentPuts reusable chunk buffers

	mu      sync.Mutex
	entries map[string]*entry
}

// entry is the in-process state of one source, shared by its Follow and Seal.
type entry struct {
	users int // guarded by Shipper.mu

	mu       sync.Mutex // serializes shipping steps of the source
	loaded   bool
	cp       Checkpoint // always equal to the last saved checkpoint
	file     *os.File
	seen     bool // the file existed at some point in this process
	lastPut  time.Time
	sealed   chan struct{}
	sealOnce sync.Once
}

// NewShipper returns a Shipper writing to store and recording progress in cps.
func NewShipper(store *Store, cps Checkpoints, opts Options) *Shipper {
	opts = opts.withDefaults()
	bufs := make(chan []byte, opts.MaxConcurrentPuts)
	for range opts.MaxConcurrentPuts {
		bufs <- nil // allocated on first use
	}
	return &Shipper{store: store, cps: cps, opts: opts, bufs: bufs, entries: map[string]*entry{}}
}

// acquire returns the entry of key, creating it, and counts a use.
func (sh *Shipper) acquire(key string) *entry {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.entries[key]
	if e == nil {
		e = &entry{sealed: make(chan struct{})}
		sh.entries[key] = e
	}
	e.users++
	return e
}

// release drops a use of e; the last one forgets the entry and closes its
// file (outside Shipper.mu, so a slow step of this source blocks no other).
func (sh *Shipper) release(key string, e *entry) {
	sh.mu.Lock()
	e.users--
	last := e.users == 0
	if last {
		delete(sh.entries, key)
	}
	sh.mu.Unlock()
	if !last {
		return
	}
	e.mu.Lock()
	if e.file != nil {
		e.file.Close()
		e.file = nil
	}
	e.mu.Unlock()
}

// load reads the saved checkpoint once per entry; caller holds e.mu.
func (sh *Shipper) load(ctx context.Context, e *entry, key string) error {
	if e.loaded {
		return nil
	}
	cp, err := sh.loadCheckpoint(ctx, key)
	if err != nil {
		return err
	}
	e.cp, e.loaded = cp, true
	return nil
}

func (sh *Shipper) loadCheckpoint(ctx context.Context, key string) (Checkpoint, error) {
	cp, err := sh.cps.Load(ctx, key)
	if errors.Is(err, ErrNoCheckpoint) {
		return Checkpoint{NextChunk: 1}, nil
	}
	if err != nil {
		return Checkpoint{}, fmt.Errorf("load checkpoint %s: %w", key, err)
	}
	if cp.NextChunk < 1 {
		cp.NextChunk = 1
	}
	return cp, nil
}

// save persists cp and makes it the entry's state; caller holds e.mu.
func (sh *Shipper) save(ctx context.Context, e *entry, key string, cp Checkpoint) error {
	if err := sh.cps.Save(ctx, key, cp); err != nil {
		return fmt.Errorf("save checkpoint %s: %w", key, err)
	}
	e.cp = cp
	return nil
}

// Follow ships src until ctx is done (returning ctx's error) or the source is
// sealed (returning nil). It polls the file — it may not exist yet — from the
// checkpointed offset and puts new bytes as numbered chunk objects, saving a
// checkpoint after each put. COS, file and checkpoint failures are retried
// with exponential backoff (logged as warnings, capped at MaxBackoff); the
// backlog stays in the file. Only an invalid src (ErrInvalidSource) is
// returned as an error besides ctx's.
func (sh *Shipper) Follow(ctx context.Context, src Source) error {
	if err := src.validate(); err != nil {
		return err
	}
	e := sh.acquire(src.Key)
	defer sh.release(src.Key, e)

	var backoff time.Duration
	for {
		sealed, err := sh.step(ctx, e, src, false)
		if sealed {
			return nil
		}
		wait := sh.opts.PollInterval
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			backoff = min(max(2*backoff, sh.opts.PollInterval), sh.opts.MaxBackoff)
			wait = backoff
			sh.opts.Logger.Warn("log shipping failed, retrying", "task", src.Key, "retry_in", wait, "err", err)
		} else {
			backoff = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-e.sealed:
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// step ships what the file holds beyond the checkpoint: everything when final
// or when a flush is due, otherwise only full chunks.
func (sh *Shipper) step(ctx context.Context, e *entry, src Source, final bool) (sealed bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := sh.load(ctx, e, src.Key); err != nil {
		return false, err
	}
	if e.cp.Sealed {
		return true, nil
	}
	avail, err := sh.observe(ctx, e, src)
	if err != nil {
		return false, err
	}
	due := final || sh.opts.Now().Sub(e.lastPut) >= sh.opts.FlushInterval
	for avail > 0 && (due || avail >= int64(sh.opts.MaxChunk)) {
		var sizes []int64 // the next chunks: full ones, and a partial one when due
		for rem := avail; rem > 0 && len(sizes) < sh.opts.MaxConcurrentPuts; {
			n := min(rem, int64(sh.opts.MaxChunk))
			if !due && n < int64(sh.opts.MaxChunk) {
				break
			}
			sizes = append(sizes, n)
			rem -= n
		}
		n, err := sh.shipBatch(ctx, e, src, sizes)
		if err != nil {
			return false, err
		}
		if n == 0 { // the file shrank under us; the next observe sees it
			break
		}
		avail -= n
	}
	return false, nil
}

// shipBatch reads the next chunks of the given sizes (fewer when buffers are
// busy or the file ends early), puts them concurrently — a backlog ships at
// upload speed — and saves one checkpoint covering the chunks that were put
// without a gap. It returns the file bytes shipped. Caller holds e.mu.
func (sh *Shipper) shipBatch(ctx context.Context, e *entry, src Source, sizes []int64) (int64, error) {
	bufs, err := sh.takeBuffers(ctx, len(sizes))
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, b := range bufs {
			sh.bufs <- b
		}
	}()
	var datas [][]byte
	var cps []Checkpoint
	cp := e.cp
	for i, buf := range bufs {
		got, err := e.file.ReadAt(buf[:sizes[i]], cp.FileOffset)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read log at %d: %w", cp.FileOffset, err)
		}
		if got == 0 {
			break
		}
		if cp.FileOffset == 0 {
			cp.Head = bytes.Clone(buf[:min(got, headLen)])
		}
		if cp, err = cp.advance(buf[:got]); err != nil {
			return 0, err
		}
		datas, cps = append(datas, buf[:got]), append(cps, cp)
		if int64(got) < sizes[i] {
			break
		}
	}
	errs := make([]error, len(datas))
	var wg sync.WaitGroup
	for i, data := range datas {
		wg.Go(func() { errs[i] = sh.store.putChunk(ctx, src, e.cp.NextChunk+i, data) })
	}
	wg.Wait()
	k := 0 // chunks put without a gap
	for k < len(errs) && errs[k] == nil {
		k++
	}
	var putErr error
	if k < len(errs) {
		putErr = errs[k]
	}
	if k == 0 {
		return 0, putErr
	}
	shipped := cps[k-1].FileOffset - e.cp.FileOffset
	if err := sh.save(ctx, e, src.Key, cps[k-1]); err != nil {
		return 0, err
	}
	e.lastPut = sh.opts.Now()
	return shipped, putErr
}

// takeBuffers waits for one chunk buffer and takes up to n-1 more that are
// free; never waiting while holding one rules out deadlock between sources.
func (sh *Shipper) takeBuffers(ctx context.Context, n int) ([][]byte, error) {
	var bufs [][]byte
	select {
	case b := <-sh.bufs:
		bufs = append(bufs, b)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for len(bufs) < n {
		select {
		case b := <-sh.bufs:
			bufs = append(bufs, b)
			continue
		default:
		}
		break
	}
	for i, b := range bufs {
		if b == nil {
			bufs[i] = make([]byte, sh.opts.MaxChunk)
		}
	}
	return bufs, nil
}
