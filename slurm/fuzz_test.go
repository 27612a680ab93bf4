package slurm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The parser fuzz targets start from the captured 22.05 fixtures (and the
// committed corpus under testdata/fuzz) and check what callers rely on:
// no panic, every refusal an ErrMalformed, ids unique, times UTC, and each
// job re-parses alone to the same value (no state leaks between records).

func addFixtureSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		f.Add(readFixture(f, n))
	}
	f.Add([]byte(""))
	f.Add([]byte("\n\n"))
	f.Add([]byte("garbage before any record\n1" + Delimiter + "x"))
}

// checkErr fails unless err is nil or every joined error is a *ParseError
// matching ErrMalformed.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error does not match ErrMalformed: %v", err)
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			var pe *ParseError
			if !errors.As(e, &pe) {
				t.Fatalf("joined error is not a *ParseError: %T %v", e, e)
			}
		}
	}
}

func checkUTC(t *testing.T, id JobID, ts ...time.Time) {
	t.Helper()
	for _, x := range ts {
		if !x.IsZero() && x.Location() != time.UTC {
			t.Fatalf("job %s: time %v is not UTC", id, x)
		}
	}
}

// FuzzParseSqueue: ParseSqueue never panics, is deterministic, refuses only
// with ErrMalformed, returns unique well-formed ids, and every job it
// returns parses alone (its own record, nothing else) to the same value.
func FuzzParseSqueue(f *testing.F) {
	addFixtureSeeds(f, "squeue_22.05_active.txt", "squeue_22.05_ended.txt", "squeue_22.05_empty.txt")
	f.Fuzz(func(t *testing.T, in []byte) {
		jobs, err := ParseSqueue(in)
		checkErr(t, err)
		again, _ := ParseSqueue(in)
		if !reflect.DeepEqual(jobs, again) {
			t.Fatal("ParseSqueue is not deterministic")
		}
		recs, _, _ := splitRecords(string(in))
		byID := map[JobID]string{}
		for _, r := range recs {
			id, _, _ := strings.Cut(r.text, Delimiter)
			byID[JobID(id)] = r.text
		}
		seen := map[JobID]bool{}
		for _, j := range jobs {
			if seen[j.ID] || !isJobID(string(j.ID)) {
				t.Fatalf("job id %q duplicated or malformed", j.ID)
			}
			seen[j.ID] = true
			checkUTC(t, j.ID, j.Submit, j.Eligible, j.Start, j.End)
			alone, err := ParseSqueue([]byte(byID[j.ID] + "\n"))
			if err != nil || len(alone) != 1 || !reflect.DeepEqual(alone[0], j) {
				t.Fatalf("job %s re-parsed alone = %+v, %v; want %+v", j.ID, alone, err, j)
			}
		}
	})
}

// FuzzParseSacct: as FuzzParseSqueue for ParseSacct, plus the records keep
// no reference to the input (ParseSacct reads it through an unsafe view):
// overwriting the input after parsing leaves them unchanged.
func FuzzParseSacct(f *testing.F) {
	addFixtureSeeds(f, "sacct_22.05_mixed.txt", "sacct_22.05_empty.txt")
	f.Fuzz(func(t *testing.T, in []byte) {
		buf := append([]byte(nil), in...)
		recs, err := ParseSacct(buf)
		checkErr(t, err)
		snapshot := deepCopyAcct(recs)
		var errText string
		if err != nil {
			errText = err.Error()
		}
		for i := range buf {
			buf[i] = 'X'
		}
		if !reflect.DeepEqual(recs, snapshot) {
			t.Fatal("records changed when the input was overwritten: they alias it")
		}
		if err != nil && err.Error() != errText {
			t.Fatal("error text changed when the input was overwritten: it aliases it")
		}
		lines, _, _ := splitRecords(string(in))
		byID := map[JobID]string{}
		for _, r := range lines {
			id, _, _ := strings.Cut(r.text, Delimiter)
			byID[JobID(id)] = r.text
		}
		seen := map[JobID]bool{}
		for _, a := range recs {
			if seen[a.ID] || !isJobID(string(a.ID)) {
				t.Fatalf("job id %q duplicated or malformed", a.ID)
			}
			seen[a.ID] = true
			checkUTC(t, a.ID, a.Submit, a.Eligible, a.Start, a.End)
			if a.GPUs < 0 {
				t.Fatalf("job %s: negative GPUs %d", a.ID, a.GPUs)
			}
			alone, err := ParseSacct([]byte(byID[a.ID]))
			if err != nil || len(alone) != 1 || !reflect.DeepEqual(alone[0], a) {
				t.Fatalf("job %s re-parsed alone = %+v, %v; want %+v", a.ID, alone, err, a)
			}
		}
	})
}

// deepCopyAcct copies records and their strings into fresh memory.
func deepCopyAcct(recs []AcctRecord) []AcctRecord {
	out := make([]AcctRecord, len(recs))
	for i, r := range recs {
		r.ID = JobID(strings.Clone(string(r.ID)))
		r.User, r.Account, r.Partition = strings.Clone(r.User), strings.Clone(r.Account), strings.Clone(r.Partition)
		r.CancelledBy, r.Name, r.Comment = strings.Clone(r.CancelledBy), strings.Clone(r.Name), strings.Clone(r.Comment)
		out[i] = r
	}
	return out
}
