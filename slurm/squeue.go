package slurm

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Delimiter separates fields in the squeue and sacct output the package asks
// for: U+241F SYMBOL FOR UNIT SEPARATOR, which does not occur in job names,
// accounts or comments in practice (a '|' does, and parses fine).
const Delimiter = "\u241f"

// squeueFields are the squeue --Format fields, in the order ParseSqueue reads
// them. ":0" means no padding; the delimiter is the field suffix.
var squeueFields = []string{
	"JobArrayID", "Name", "UserName", "Account", "Partition", "State", "Reason",
	"SubmitTime", "EligibleTime", "StartTime", "EndTime", "TimeLimit", "NumCPUs",
	"tres-per-node", "Comment",
}

// SqueueFormat is the --Format argument Poll passes to squeue (also used by
// scripts/capture-slurm-fixtures).
var SqueueFormat = squeueFormat()

func squeueFormat() string {
	parts := make([]string, len(squeueFields))
	for i, f := range squeueFields {
		parts[i] = f + ":0"
		if i < len(squeueFields)-1 {
			parts[i] += Delimiter
		}
	}
	return strings.Join(parts, ",")
}

// JobID is a Slurm job id as Slurm prints it: decimal digits for a plain job,
// "base_index" for an element of an array job ("123_4"), "123_[1-5]" for the
// still-pending rest of an array.
type JobID string

// JobStatus is one job as squeue reports it. Times are UTC; a time Slurm does
// not know ("N/A", "Unknown") is the zero time. For an active job End is the
// expected end, and Start the expected start (or the begin time).
type JobStatus struct {
	ID        JobID
	Name      string
	User      string
	Account   string
	Partition string
	State     State
	Reason    Reason
	Submit    time.Time
	Eligible  time.Time
	Start     time.Time
	End       time.Time
	TimeLimit time.Duration // 0 = UNLIMITED or not set
	CPUs      int
	GPUs      int    // from the job's gres request (tres-per-node), any GPU type
	TRES      string // the raw tres-per-node, e.g. "gres:gpu:a100:2"; "" for N/A
	Comment   string // batchgate's task id, so a job is found after a crash
}

// ParseSqueue parses the output of squeue -h --Format=SqueueFormat. Empty
// output is no jobs. A newline inside a job name or comment is kept (see
// splitRecords). Jobs that do not parse (wrong number of fields, an unknown
// state, a bad time) and jobs whose id is listed more than once (a line
// forged inside some job's name) are left out and reported together as
// *ParseError values joined in the returned error (matching ErrMalformed), so
// one odd job never hides the others: callers use the jobs and log the error.
func ParseSqueue(b []byte) ([]JobStatus, error) {
	recs, orphans, dup := splitRecords(string(b))
	jobs := make([]JobStatus, 0, len(recs))
	errs := recordErrors(orphans, dup, recs)
	for _, r := range recs {
		j, reason := parseSqueueLine(r.text)
		if reason != "" {
			errs = append(errs, &ParseError{Line: r.line, Text: r.text, Reason: reason})
			continue
		}
		if !dup[j.ID] {
			jobs = append(jobs, j)
		}
	}
	return jobs, errors.Join(errs...)
}

// recordErrors reports the lines no job owns and the ids listed twice.
func recordErrors(orphans []record, dup map[JobID]bool, recs []record) []error {
	var errs []error
	for _, o := range orphans {
		errs = append(errs, &ParseError{Line: o.line, Text: o.text, Reason: "no job id"})
	}
	if len(dup) == 0 {
		return errs
	}
	for _, r := range recs {
		id, _, _ := strings.Cut(r.text, Delimiter)
		if dup[JobID(id)] {
			errs = append(errs, &ParseError{Line: r.line, Text: r.text, Reason: "job " + id + " listed more than once (a forged line?)"})
		}
	}
	return errs
}

func parseSqueueLine(line string) (JobStatus, string) {
	var f [15]string
	if !splitInto(line, f[:]) {
		return JobStatus{}, "want " + strconv.Itoa(len(f)) + " fields"
	}
	j := JobStatus{ID: JobID(f[0]), Name: f[1], User: f[2], Account: f[3], Partition: f[4],
		Reason: parseReason(f[6]), Comment: f[14]}
	if j.ID == "" {
		return j, "empty job id"
	}
	var err error
	if j.State, _, err = ParseState(f[5]); err != nil {
		return j, err.Error()
	}
	var ok [4]bool
	j.Submit, ok[0] = parseSlurmTime(f[7])
	j.Eligible, ok[1] = parseSlurmTime(f[8])
	j.Start, ok[2] = parseSlurmTime(f[9])
	j.End, ok[3] = parseSlurmTime(f[10])
	if !ok[0] || !ok[1] || !ok[2] || !ok[3] {
		return j, "bad time"
	}
	if j.TimeLimit, ok[0] = parseTimeLimit(f[11]); !ok[0] {
		return j, "bad time limit"
	}
	if j.CPUs, err = strconv.Atoi(f[12]); err != nil {
		return j, "bad cpu count"
	}
	if f[13] != "N/A" {
		j.TRES = f[13]
		j.GPUs = gpusPerNode(f[13])
	}
	if j.Comment == "(null)" {
		j.Comment = ""
	}
	return j, ""
}

// splitInto splits line at Delimiter into exactly len(f) fields.
func splitInto(line string, f []string) bool {
	for i := range f {
		if i == len(f)-1 {
			if strings.Contains(line, Delimiter) {
				return false
			}
			f[i] = line
			return true
		}
		var ok bool
		f[i], line, ok = strings.Cut(line, Delimiter)
		if !ok {
			return false
		}
	}
	return true
}

// gpusPerNode reads the GPU count of a tres-per-node string such as
// "gres:gpu:2", "gres:gpu:a100:2" or "gres:gpu:1,gres:shard:2"; 0 if none.
func gpusPerNode(s string) int {
	for _, part := range strings.Split(s, ",") {
		rest, ok := strings.CutPrefix(part, "gres:gpu")
		if !ok || (rest != "" && rest[0] != ':') {
			continue
		}
		i := strings.LastIndexByte(rest, ':')
		if i < 0 {
			return 1 // "gres:gpu" alone means one
		}
		if n, err := strconv.Atoi(rest[i+1:]); err == nil {
			return n
		}
		return 1 // "gres:gpu:a100" means one of that type
	}
	return 0
}

// parseTimeLimit reads Slurm's [days-]hours:minutes:seconds (or minutes:seconds)
// time limit; UNLIMITED, NOT_SET and INFINITE give 0.
func parseTimeLimit(s string) (time.Duration, bool) {
	switch s {
	case "UNLIMITED", "NOT_SET", "INFINITE", "N/A":
		return 0, true
	}
	var days int
	if d, rest, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, false
		}
		days, s = n, rest
	}
	parts := strings.Split(s, ":")
	if len(parts) > 3 {
		return 0, false
	}
	var total int
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return 0, false
		}
		total = total*60 + n
	}
	if len(parts) == 1 { // a bare number is minutes
		total *= 60
	}
	return time.Duration(days)*24*time.Hour + time.Duration(total)*time.Second, true
}
