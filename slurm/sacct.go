package slurm

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"
)

// sacctFields are the sacct --format fields, in the order ParseSacct reads them.
var sacctFields = []string{
	"JobID", "JobName", "User", "Account", "Partition", "State", "Submit",
	"Eligible", "Start", "End", "ElapsedRaw", "AllocCPUS", "AllocTRES", "ExitCode",
	"Comment",
}

// SacctFormat is the --format argument Accounting passes to sacct (also used
// by scripts/capture-slurm-fixtures). Comment is only filled when slurm.conf
// has AccountingStoreFlags=job_comment.
var SacctFormat = strings.Join(sacctFields, ",")

// AcctRecord is one job's allocation line from sacct (-X: never a step). Times
// are UTC and zero when sacct says Unknown or None (a job cancelled while
// pending has no start; one that never became eligible has no eligible time).
type AcctRecord struct {
	ID          JobID
	Name        string
	User        string
	Account     string
	Partition   string
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
	Comment     string
}

// ParseSacct parses the output of sacct -X -P -n --delimiter=Delimiter
// --format=SacctFormat. Empty output is no records. As with ParseSqueue, lines
// that do not parse are left out and reported together in the error (each a
// *ParseError matching ErrMalformed); the good records are still returned.
func ParseSacct(b []byte) ([]AcctRecord, error) {
	recs := make([]AcctRecord, 0, bytes.Count(b, []byte{'\n'})+1)
	var errs []error
	s := string(b) // one copy; every field below is a substring of it
	n := 0
	for len(s) > 0 {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		n++
		if line == "" {
			continue
		}
		r, reason := parseSacctLine(line)
		if reason != "" {
			errs = append(errs, &ParseError{Line: n, Text: line, Reason: reason})
			continue
		}
		recs = append(recs, r)
	}
	return recs, errors.Join(errs...)
}

func parseSacctLine(line string) (AcctRecord, string) {
	var f [15]string
	if !splitInto(line, f[:]) {
		return AcctRecord{}, "want " + strconv.Itoa(len(f)) + " fields"
	}
	r := AcctRecord{ID: JobID(f[0]), Name: f[1], User: f[2], Account: f[3], Partition: f[4],
		Comment: f[14]}
	if r.ID == "" || strings.Contains(f[0], ".") {
		return r, "not an allocation line"
	}
	var err error
	if r.State, r.CancelledBy, err = ParseState(f[5]); err != nil {
		return r, err.Error()
	}
	var ok [4]bool
	r.Submit, ok[0] = parseSlurmTime(f[6])
	r.Eligible, ok[1] = parseSlurmTime(f[7])
	r.Start, ok[2] = parseSlurmTime(f[8])
	r.End, ok[3] = parseSlurmTime(f[9])
	if !ok[0] || !ok[1] || !ok[2] || !ok[3] {
		return r, "bad time"
	}
	if r.Elapsed, err = strconv.ParseInt(f[10], 10, 64); err != nil {
		return r, "bad ElapsedRaw"
	}
	if r.CPUs, err = strconv.Atoi(f[11]); err != nil {
		return r, "bad AllocCPUS"
	}
	if r.GPUs, ok[0] = untypedGPUs(f[12]); !ok[0] {
		return r, "bad AllocTRES"
	}
	code, sig, found := strings.Cut(f[13], ":")
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
