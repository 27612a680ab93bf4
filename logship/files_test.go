package logship

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"
)

// shipNow runs one final shipping step, as Seal does, without sealing.
func shipNow(t *testing.T, sh *Shipper, src Source) {
	t.Helper()
	e := sh.acquire(src.Key)
	defer sh.release(src.Key, e)
	if _, err := sh.step(context.Background(), e, src, true); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedFileIsRecorded(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "truncated")
	sh := NewShipper(s, newMemCheckpoints(), testOptions(t))
	before := "old line 1\nold line 2\n"
	if err := os.WriteFile(src.Path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	e := sh.acquire(src.Key) // keeps the descriptor open, like a running Follow
	defer sh.release(src.Key, e)
	shipNow(t, sh, src)
	after := "new\n"
	if err := os.WriteFile(src.Path, []byte(after), 0o644); err != nil { // O_TRUNC: same inode, smaller
		t.Fatal(err)
	}
	m, err := sh.Seal(context.Background(), src, SealInfo{State: "COMPLETED"})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Truncated || m.Deleted {
		t.Errorf("manifest truncated=%v deleted=%v, want true false", m.Truncated, m.Deleted)
	}
	checkSealed(t, s, src, m, []byte(before+after))
}

func TestDeletedFileIsRecordedAndDrained(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "deleted")
	sh := NewShipper(s, newMemCheckpoints(), testOptions(t))
	app := newAppender(t, src.Path)
	app.write(t, "before delete\n")
	e := sh.acquire(src.Key)
	defer sh.release(src.Key, e)
	shipNow(t, sh, src)
	if err := os.Remove(src.Path); err != nil {
		t.Fatal(err)
	}
	app.write(t, "written by the job after its owner deleted the file\n") // still open
	m, err := sh.Seal(context.Background(), src, SealInfo{State: "COMPLETED"})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Deleted || m.Truncated {
		t.Errorf("manifest deleted=%v truncated=%v, want true false", m.Deleted, m.Truncated)
	}
	checkSealed(t, s, src, m, app.bytes())
}

func TestDeletedBeforeRestartSealsWhatWasShipped(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "deleted-restart")
	cps := newMemCheckpoints()
	content := "shipped before the gateway restarted\n"
	if err := os.WriteFile(src.Path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	shipNow(t, NewShipper(s, cps, testOptions(t)), src)
	if err := os.Remove(src.Path); err != nil {
		t.Fatal(err)
	}
	sh := NewShipper(s, cps, testOptions(t))
	tail, err := sh.Tail(context.Background(), src, 8)
	if err != nil || string(tail) != "started\n" {
		t.Errorf("Tail from chunks = %q, %v", tail, err)
	}
	m, err := sh.Seal(context.Background(), src, SealInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Deleted {
		t.Error("manifest does not record the deletion")
	}
	checkSealed(t, s, src, m, []byte(content))
}

func TestMissingFileSealsEmpty(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "missing")
	sh := NewShipper(s, newMemCheckpoints(), testOptions(t))
	if _, err := sh.Tail(context.Background(), src, 10); !errors.Is(err, ErrNoLog) {
		t.Errorf("Tail before any log = %v, want ErrNoLog", err)
	}
	m, err := sh.Seal(context.Background(), src, SealInfo{State: "CANCELLED"})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Missing || m.Lines != 0 {
		t.Errorf("manifest %+v, want missing and empty", m)
	}
	checkSealed(t, s, src, m, nil)
	if b, err := sh.Tail(context.Background(), src, 10); err != nil || len(b) != 0 {
		t.Errorf("Tail of an empty sealed log = %q, %v", b, err)
	}
}

func TestTailAndPresign(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "tail")
	sh := NewShipper(s, newMemCheckpoints(), testOptions(t))
	content := strings.Repeat("0123456789", 100) + "end"
	if err := os.WriteFile(src.Path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if b, err := sh.Tail(ctx, src, 5); err != nil || string(b) != "89end" {
		t.Errorf("Tail of the running file = %q, %v", b, err)
	}
	if _, err := s.PresignLog(ctx, src, time.Minute); !errors.Is(err, ErrNotSealed) {
		t.Errorf("PresignLog before seal = %v, want ErrNotSealed", err)
	}
	if _, err := sh.Seal(ctx, src, SealInfo{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src.Path, []byte("changed on disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := sh.Tail(ctx, src, 6); err != nil || string(b) != "789end" {
		t.Errorf("Tail of the sealed object = %q, %v", b, err)
	}
	if b, err := sh.Tail(ctx, src, 1<<20); err != nil || string(b) != content {
		t.Errorf("Tail longer than the log = %d bytes, %v", len(b), err)
	}

	u, err := s.PresignLog(ctx, src, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != content {
		t.Fatalf("GET presigned: %d, %d bytes", resp.StatusCode, len(body))
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, src.Key+".log") {
		t.Errorf("Content-Disposition = %q", cd)
	}
	q := u.Query()
	q.Set("response-content-disposition", "inline")
	u.RawQuery = q.Encode()
	if resp, err := http.Get(u.String()); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("tampered URL: %v %v, want 403", resp.Status, err)
	}
}

func TestEnsureBucketAndReady(t *testing.T) {
	cfg := cosConfig(t)
	cfg.Bucket = "logship-test-" + time.Now().Format("20060102150405.000000000")
	cfg.Bucket = strings.ReplaceAll(cfg.Bucket, ".", "-")
	cfg.RetentionDays = 7
	s, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Ready(ctx); !errors.Is(err, ErrBucketMissing) {
		t.Fatalf("Ready before EnsureBucket = %v, want ErrBucketMissing", err)
	}
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.client.RemoveBucket(context.Background(), cfg.Bucket) })
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatalf("second EnsureBucket: %v", err)
	}
	if err := s.Ready(ctx); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	lc, err := s.client.GetBucketLifecycle(ctx, cfg.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	if r := ruleByID(lc, retentionRuleID); r == nil || r.Expiration.Days != 7 || r.RuleFilter.Prefix != "logs/" {
		t.Fatalf("retention rule %+v", r)
	}
	s.retention = 0
	if err := s.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	lc, err = s.client.GetBucketLifecycle(ctx, cfg.Bucket)
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchLifecycleConfiguration" {
		t.Fatal(err)
	}
	if err == nil && ruleByID(lc, retentionRuleID) != nil {
		t.Error("retention rule kept with RetentionDays 0")
	}
}

func ruleByID(lc *lifecycle.Configuration, id string) *lifecycle.Rule {
	for i := range lc.Rules {
		if lc.Rules[i].ID == id {
			return &lc.Rules[i]
		}
	}
	return nil
}

func TestReadyUnreachable(t *testing.T) {
	s, err := NewStore(COSConfig{Endpoint: "127.0.0.1:1", Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Ready(ctx); !errors.Is(err, ErrUnreachable) {
		t.Errorf("Ready = %v, want ErrUnreachable", err)
	}
}

func TestRecreatedFileAfterRestartIsNotMixedIn(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "recreated")
	cps := newMemCheckpoints()
	if err := os.WriteFile(src.Path, []byte("original\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shipNow(t, NewShipper(s, cps, testOptions(t)), src)
	if err := os.Remove(src.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(src.Path, []byte("another file at the same path\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := NewShipper(s, cps, testOptions(t)).Seal(context.Background(), src, SealInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Deleted {
		t.Error("manifest does not record the replaced file")
	}
	checkSealed(t, s, src, m, []byte("original\n"))
}

func TestSealWaitsForTheFileToSettle(t *testing.T) {
	s := testStore(t)
	src := testSource(t, s, "settle")
	sh := NewShipper(s, newMemCheckpoints(), testOptions(t)) // PollInterval 200ms
	app := newAppender(t, src.Path)
	app.write(t, "first\n")
	done := make(chan struct{})
	go func() { // late writes, as from a node whose data shows up after the job ended
		defer close(done)
		for i := range 5 {
			time.Sleep(100 * time.Millisecond)
			app.write(t, fmt.Sprintf("late %d\n", i))
		}
	}()
	m, err := sh.Seal(context.Background(), src, SealInfo{})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	checkSealed(t, s, src, m, app.bytes())
}
