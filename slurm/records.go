package slurm

import (
	"strings"
)

// record is one job's text in squeue or sacct output, and the line it starts on.
type record struct {
	line int
	text string
}

// splitRecords cuts Slurm output into one record per job. A record starts at
// a line that begins with a job id and the Delimiter; any other non-empty
// line continues the record before it, joined with "\n": Slurm prints a
// newline inside a job name or comment raw. Lines before the first record
// come back as orphans.
//
// A forged line inside some job's text must carry a job id; dup reports
// every id seen more than once, so callers drop those jobs rather than trust
// either line.
func splitRecords(s string) (recs []record, orphans []record, dup map[JobID]bool) {
	recs = make([]record, 0, strings.Count(s, "\n")+1)
	seen := make(map[string]struct{}, cap(recs))
	n := 0
	for len(s) > 0 {
		var line string
		line, s, _ = strings.Cut(s, "\n")
		n++
		if id, _, ok := strings.Cut(line, Delimiter); ok && isJobID(id) {
			if _, ok := seen[id]; ok {
				if dup == nil {
					dup = map[JobID]bool{}
				}
				dup[JobID(id)] = true
			}
			seen[id] = struct{}{}
			recs = append(recs, record{n, line})
			continue
		}
		switch {
		case line == "":
		case len(recs) == 0:
			orphans = append(orphans, record{n, line})
		default:
			recs[len(recs)-1].text += "\n" + line
		}
	}
	return recs, orphans, dup
}

// isJobID accepts the job ids squeue and sacct print: "123", "123_4",
// "123_[1-5,7%2]" (the pending rest of an array) and "123+1" (a
// heterogeneous job component).
func isJobID(s string) bool {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return false
	}
	if i == len(s) {
		return true
	}
	rest := s[i+1:]
	switch {
	case s[i] == '_' && strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") && len(rest) > 2:
		return strings.Trim(rest[1:len(rest)-1], "0123456789,-%") == ""
	case s[i] == '_' || s[i] == '+':
		return rest != "" && strings.Trim(rest, "0123456789") == ""
	}
	return false
}
