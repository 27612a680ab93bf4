package slurm

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestAccountingSplitsWindowsAndDedupes(t *testing.T) {
	figures, err := filepath.Abs("testdata/sacct_22.05_mixed.txt")
	if err != nil {
		t.Fatal(err)
	}
	texts, err := filepath.Abs("testdata/sacct_22.05_text.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, rec := fakeClient(t, "ok", func(cfg *Config) {
		cfg.Env = append(cfg.Env, "FAKE_SLURM_OUT="+figures, "FAKE_SLURM_OUT_TEXT="+texts)
		cfg.MaxWindow = 24 * time.Hour
	})
	from := utc("2026-12-01T00:00:00")
	to := from.Add(50 * time.Hour)
	recs, err := c.Accounting(context.Background(), AcctQuery{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 18 {
		t.Errorf("got %d records, want the fixture's 18 once each", len(recs))
	}
	for _, r := range recs {
		if r.Name == "" || r.Comment == "" {
			t.Errorf("record %s has no name or comment: %+v", r.ID, r)
		}
	}
	calls := readRecords(t, rec)
	if len(calls) != 6 {
		t.Fatalf("%d sacct calls, want 2 for each of 3 windows of at most 24h", len(calls))
	}
	wantWindows := [][2]string{
		{"2026-12-01T00:00:00", "2026-12-01T23:59:59"},
		{"2026-12-02T00:00:00", "2026-12-02T23:59:59"},
		{"2026-12-03T00:00:00", "2026-12-03T01:59:59"},
	}
	for i, call := range calls {
		if call.Name != "sacct" {
			t.Fatalf("call %d ran %s", i, call.Name)
		}
		format := SacctFormat
		if i%2 == 1 {
			format = SacctTextFormat
		}
		for _, want := range []string{"--allocations", "--parsable2", "--noheader", "--allusers",
			"--delimiter=" + Delimiter, "--format=" + format,
			"--starttime=" + wantWindows[i/2][0], "--endtime=" + wantWindows[i/2][1]} {
			if !slices.Contains(call.Args, want) {
				t.Errorf("call %d lacks %s: %q", i, want, call.Args)
			}
		}
		for _, a := range call.Args {
			if len(a) > 7 && a[:7] == "--jobs=" {
				t.Errorf("history query filtered by job ids: %s", a)
			}
		}
	}
}

func TestAccountingChunksJobIDs(t *testing.T) {
	c, rec := fakeClient(t, "ok", nil)
	var ids []JobID
	for i := range 450 {
		ids = append(ids, JobID(strconv.Itoa(1000+i)))
	}
	from := utc("2026-12-01T00:00:00")
	if _, err := c.Accounting(context.Background(), AcctQuery{From: from, To: from.Add(time.Hour),
		JobIDs: ids, Accounts: []string{"vision", "speech"}}); err != nil {
		t.Fatal(err)
	}
	calls := readRecords(t, rec)
	if len(calls) != 6 {
		t.Fatalf("%d calls, want 2 for each of 3 chunks of <= %d ids", len(calls), maxIDs)
	}
	if !slices.Contains(calls[0].Args, "--accounts=vision,speech") {
		t.Errorf("no account filter: %q", calls[0].Args)
	}
	if _, err := c.Accounting(context.Background(), AcctQuery{From: from, To: from}); err == nil {
		t.Error("empty window accepted")
	}
	if _, err := c.Accounting(context.Background(), AcctQuery{From: from, To: from.Add(time.Hour), JobIDs: []JobID{"1,2"}}); err == nil {
		t.Error("bad job id accepted")
	}
}

func TestFindByComment(t *testing.T) {
	jobs, err := ParseSqueue(readFixture(t, "squeue_22.05_active.txt"))
	if err != nil && !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	found, err := FindByComment(jobs, jobs[0].Comment)
	if err != nil || len(found) != 1 || found[0].ID != jobs[0].ID {
		t.Errorf("FindByComment = %v, %v", found, err)
	}
	if _, err := FindByComment(jobs, "no-such-task"); err == nil {
		t.Error("missing comment found")
	}
}
