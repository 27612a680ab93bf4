package slurm

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// Slurm stores job names and comments verbatim, newlines and any delimiter
// included, and sacct prints them raw: a user could name a job so that its
// line reads as a forged record of another user. Accounting therefore reads
// sacct twice per window: SacctFormat holds only fields users cannot fill with
// free text (the usage figures come from it alone), and SacctTextFormat the
// names and comments, attached afterwards by job id (see ParseSacctText).

// SacctFormat is the --format of Accounting's first sacct call, the one
// ParseSacct reads (also used by scripts/capture-slurm-fixtures).
const SacctFormat = "JobID,User,Account,Partition,State,Submit,Eligible,Start,End,ElapsedRaw,AllocCPUS,AllocTRES,ExitCode"

// SacctTextFormat is the --format of Accounting's second sacct call, the one
// ParseSacctText reads. Comment is only filled when slurm.conf has
// AccountingStoreFlags=job_comment.
const SacctTextFormat = "JobID,JobName,Comment"

// AcctRecord is one job's allocation line from sacct (-X: never a step). Times
// are UTC and zero when sacct says Unknown or None (a job cancelled while
// pending has no start; one that never became eligible has no eligible time).
type AcctRecord struct {
	ID          JobID
	User        string
	Account     string
	Partition   string // the fields above and below come from SacctFormat: no user-written text
	State       State
	CancelledBy string // uid from "CANCELLED by N", else ""
	Submit      time.Time
	Eligible    time.Time
	Start       time.Time
	End         time.Time
	Elapsed     int64 // seconds (ElapsedRaw)
	CPUs        int   // AllocCPUS
	GPUs        int   // untyped gres/gpu=N of AllocTRES; typed entries never counted
	ExitCode    int
	Signal      int
	Name        string // Name and Comment come from the SacctTextFormat call (Accounting)
	Comment     string
}

// ParseSacct parses the output of sacct -X -P -n --delimiter=Delimiter
// --format=SacctFormat; Name and Comment stay empty (see ParseSacctText).
// The records keep no reference to b.
// Empty output is no records. As with ParseSqueue, lines that do not parse
// are left out and reported together in the error (each a *ParseError
// matching ErrMalformed); the good records are still returned.
func ParseSacct(b []byte) ([]AcctRecord, error) {
	// Usage output is big (100k lines is ~16 MB): read it through a
	// zero-copy view and copy out only the short strings a record keeps.
	view := unsafe.String(unsafe.SliceData(b), len(b))
	recs, orphans, dup := splitRecords(view)
	out := make([]AcctRecord, 0, len(recs))
	errs := recordErrors(orphans, dup, recs)
	in := interner{}
	for _, r := range recs {
		a, reason := parseSacctLine(r.text)
		if reason != "" {
			errs = append(errs, &ParseError{Line: r.line, Text: strings.Clone(r.text), Reason: reason})
			continue
		}
		if dup[a.ID] {
			continue
		}
		a.ID = JobID(strings.Clone(string(a.ID)))
		a.User, a.Account, a.Partition = in.get(a.User), in.get(a.Account), in.get(a.Partition)
		a.CancelledBy = in.get(a.CancelledBy)
		out = append(out, a)
	}
	for _, e := range errs { // recordErrors' texts are views too
		if pe, ok := e.(*ParseError); ok {
			pe.Text = strings.Clone(pe.Text)
		}
	}
	return out, errors.Join(errs...)
}

// interner copies strings that repeat across records (users, accounts,
// partitions) once each.
type interner map[string]string

func (in interner) get(s string) string {
	if v, ok := in[s]; ok {
		return v
	}
	v := strings.Clone(s)
	in[v] = v
	return v
}

func parseSacctLine(line string) (AcctRecord, string) {
	var f [13]string
	if !splitInto(line, f[:]) {
		return AcctRecord{}, "want " + strconv.Itoa(len(f)) + " fields"
	}
	r := AcctRecord{ID: JobID(f[0]), User: f[1], Account: f[2], Partition: f[3]}
	if !isJobID(f[0]) || strings.ContainsAny(f[0], "[+") {
		return r, "not an allocation line"
	}
	var err error
	if r.State, r.CancelledBy, err = ParseState(f[4]); err != nil {
		return r, err.Error()
	}
	var ok [4]bool
	r.Submit, ok[0] = parseSlurmTime(f[5])
	r.Eligible, ok[1] = parseSlurmTime(f[6])
	r.Start, ok[2] = parseSlurmTime(f[7])
	r.End, ok[3] = parseSlurmTime(f[8])
	if !ok[0] || !ok[1] || !ok[2] || !ok[3] {
		return r, "bad time"
	}
	if r.Elapsed, err = strconv.ParseInt(f[9], 10, 64); err != nil {
		return r, "bad ElapsedRaw"
	}
	if r.CPUs, err = strconv.Atoi(f[10]); err != nil {
		return r, "bad AllocCPUS"
	}
	if r.GPUs, ok[0] = untypedGPUs(f[11]); !ok[0] {
		return r, "bad AllocTRES"
	}
	code, sig, found := strings.Cut(f[12], ":")
	r.ExitCode, err = strconv.Atoi(code)
	if err != nil || !found {
		return r, "bad ExitCode"
	}
	if r.Signal, err = strconv.Atoi(sig); err != nil {
		return r, "bad ExitCode"
	}
	return r, ""
}

// untypedGPUs returns N from the "gres/gpu=N" entry of an AllocTRES list such
// as "billing=1,cpu=1,gres/gpu:a100=2,gres/gpu=2,node=1". Typed entries
// (gres/gpu:a100) repeat the same GPUs and are skipped; no entry means 0.
func untypedGPUs(tres string) (int, bool) {
	for len(tres) > 0 {
		var item string
		item, tres, _ = strings.Cut(tres, ",")
		if v, ok := strings.CutPrefix(item, "gres/gpu="); ok {
			n, err := strconv.Atoi(v)
			return n, err == nil && n >= 0
		}
	}
	return 0, true
}

// JobText is the user-written text of a job: its name and comment.
type JobText struct {
	Name    string
	Comment string
}

// ParseSacctText parses the output of sacct -X -P -n --delimiter=Delimiter
// --format=SacctTextFormat into names and comments by job id. A newline
// inside a name or comment is kept (see splitRecords). A job whose text does
// not split into exactly name and comment, or whose id is listed twice (a
// forged line), is left out and reported in the error (matching
// ErrMalformed).
func ParseSacctText(b []byte) (map[JobID]JobText, error) {
	recs, orphans, dup := splitRecords(string(b))
	out := make(map[JobID]JobText, len(recs))
	errs := recordErrors(orphans, dup, recs)
	for _, r := range recs {
		id, text, _ := strings.Cut(r.text, Delimiter)
		name, comment, ok := strings.Cut(text, Delimiter)
		if !ok || strings.Contains(comment, Delimiter) {
			errs = append(errs, &ParseError{Line: r.line, Text: r.text, Reason: "want name and comment"})
			continue
		}
		if !dup[JobID(id)] {
			out[JobID(id)] = JobText{Name: name, Comment: comment}
		}
	}
	return out, errors.Join(errs...)
}
