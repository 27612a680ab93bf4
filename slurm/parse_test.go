package slurm

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func utc(s string) time.Time {
	t, err := time.Parse(beginLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// jobKey names a fixture job by its case: the capture script gives every
// case its own job name; array elements share one and are told apart by
// their index.
func jobKey(name string, id JobID) string {
	if name == "array" {
		_, idx, _ := strings.Cut(string(id), "_")
		return "array " + idx
	}
	return name
}

func squeueByName(t *testing.T, fixture string) (map[string]JobStatus, error) {
	t.Helper()
	jobs, err := ParseSqueue(readFixture(t, fixture))
	m := map[string]JobStatus{}
	for _, j := range jobs {
		m[jobKey(j.Name, j.ID)] = j
	}
	return m, err
}

// The capture has bob's job "forger" whose name holds the delimiter and whose
// comment holds a line forged as a record of alice's job "victim": both of
// those are refused, with the reasons, and everything else parses.
func checkForgery(t *testing.T, m map[string]JobStatus, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "listed more than once") {
		t.Errorf("err = %v; want the forged duplicate reported", err)
	}
	for name := range m {
		if name == "victim" || name == "forged" || strings.HasPrefix(name, "forger") {
			t.Errorf("job %q parsed; a forged or duplicated line must be dropped", name)
		}
	}
}

func TestParseSqueueActive(t *testing.T) {
	m, err := squeueByName(t, "squeue_22.05_active.txt")
	checkForgery(t, m, err)
	if len(m) != 16 {
		t.Errorf("got %d jobs, want 16", len(m))
	}
	b := m["begin-pending"]
	if b.State != StatePending || b.Reason != ReasonBeginTime || b.GPUs != 2 || b.User != "alice" || b.Account != "vision" {
		t.Errorf("begin-pending = %+v", b)
	}
	if !b.Eligible.Equal(utc("2026-12-04T17:00:00")) || !b.End.IsZero() || b.TimeLimit != 0 {
		t.Errorf("begin-pending times = eligible %v end %v limit %v", b.Eligible, b.End, b.TimeLimit)
	}
	if !strings.HasSuffix(b.Comment, "-begin-pending") || b.TRES != "gres:gpu:2" {
		t.Errorf("begin-pending comment %q tres %q", b.Comment, b.TRES)
	}
	h := m["held"]
	if h.State != StatePending || h.Reason != ReasonJobHeldUser || !h.Eligible.IsZero() || !h.Start.IsZero() || h.User != "bob" {
		t.Errorf("held = %+v", h)
	}
	if r := m["cancel-running"]; r.State != StateRunning || r.CPUs != 2 || r.TimeLimit != 10*time.Minute || r.GPUs != 0 {
		t.Errorf("cancel-running = %+v", r)
	}
	if p := m["pipe|in name"]; p.State != StateCompleted || !strings.HasSuffix(p.Comment, "-pipe|in name") {
		t.Errorf("pipe job = %+v", p)
	}
	if tl := m["two\nlines"]; tl.State != StatePending || !strings.HasSuffix(tl.Comment, "-two\nlines") || tl.User != "alice" {
		t.Errorf("job with a newline in its name = %+v", tl)
	}
	if e := m["exit3"]; e.State != StateFailed || e.Reason != "NonZeroExitCode" || e.Reason.Known() || e.Account != "speech" {
		t.Errorf("exit3 = %+v", e)
	}
	if a := m["array 2"]; a.State != StateCompleted {
		t.Errorf("array element 2 = %+v", a)
	}
	reasons := map[Reason]bool{}
	for _, j := range m {
		reasons[j.Reason] = true
	}
	for _, r := range []Reason{ReasonResources, ReasonPriority, ReasonBeginTime, ReasonJobHeldUser, ReasonNone} {
		if !reasons[r] || !r.Known() {
			t.Errorf("reason %s missing from the fixture or unknown", r)
		}
	}
}

func TestParseSqueueEnded(t *testing.T) {
	m, err := squeueByName(t, "squeue_22.05_ended.txt")
	checkForgery(t, m, err)
	cp := m["cancel-pending"]
	if cp.State != StateCancelled || !cp.State.Terminal() || cp.Reason != ReasonBeginTime {
		t.Errorf("cancel-pending = %+v", cp)
	}
	if !cp.Start.Equal(cp.End) || cp.End.IsZero() {
		t.Errorf("cancel-pending start %v end %v, want equal cancel times", cp.Start, cp.End)
	}
	if b := m["begin-pending"]; b.State != StateCompleted || !b.Eligible.Equal(b.Start) {
		t.Errorf("begin-pending after StartNow = %+v", b)
	}
}

func TestParseSqueueEmpty(t *testing.T) {
	jobs, err := ParseSqueue(readFixture(t, "squeue_22.05_empty.txt"))
	if err != nil || len(jobs) != 0 {
		t.Fatalf("= %v, %v", jobs, err)
	}
}

func TestParseSqueueKeepsGoodLinesAndReportsBadOnes(t *testing.T) {
	good := strings.SplitN(string(readFixture(t, "squeue_22.05_active.txt")), "\n", 2)[0]
	_, rest, _ := strings.Cut(good, Delimiter)
	line := func(id string) string { return id + Delimiter + rest }
	unknown := strings.Replace(line("2"), Delimiter+"COMPLETED"+Delimiter, Delimiter+"LIMBO"+Delimiter, 1)
	in := "garbage before any job\n" + line("1") + "\n" + unknown + "\n" + line("3") + "\n"
	jobs, err := ParseSqueue([]byte(in))
	if len(jobs) != 2 {
		t.Errorf("got %d jobs, want the 2 good ones", len(jobs))
	}
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 1 || pe.Reason != "no job id" {
		t.Errorf("first ParseError = %+v", pe)
	}
	if !strings.Contains(err.Error(), "line 3: unknown job state \"LIMBO\"") {
		t.Errorf("err does not report the unknown state: %v", err)
	}
}

// sacctByName parses the two sacct fixtures and joins them as Accounting does.
func sacctByName(t *testing.T) map[string]AcctRecord {
	t.Helper()
	recs, err := ParseSacct(readFixture(t, "sacct_22.05_mixed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	texts, err := ParseSacctText(readFixture(t, "sacct_22.05_text.txt"))
	if err != nil {
		t.Fatal(err)
	}
	AttachText(recs, texts)
	m := map[string]AcctRecord{}
	for _, r := range recs {
		m[jobKey(r.Name, r.ID)] = r
	}
	return m
}

func TestParseSacctMixed(t *testing.T) {
	m := sacctByName(t)
	if len(m) != 18 {
		t.Errorf("got %d records, want 18", len(m))
	}
	tests := []struct {
		name            string
		state           State
		by              string
		gpus, cpus      int
		exit, sig       int
		noStart, noElig bool
	}{
		{name: "gpu2", state: StateCompleted, gpus: 2, cpus: 1},
		{name: "fill1", state: StateCompleted, gpus: 4, cpus: 1},
		{name: "cancel-running", state: StateCancelled, by: "0", cpus: 2},
		{name: "cancel-pending", state: StateCancelled, by: "0", cpus: 1, noStart: true},
		{name: "held", state: StateCancelled, by: "0", cpus: 1, noStart: true, noElig: true},
		{name: "two\nlines", state: StateCancelled, by: "0", cpus: 1, noStart: true, noElig: true},
		{name: "exit3", state: StateFailed, cpus: 1, exit: 3},
		{name: "bad-output", state: StateFailed, cpus: 1, sig: 53},
		{name: "pipe|in name", state: StateCompleted, cpus: 1},
		{name: "array 3", state: StateCompleted, cpus: 1},
	}
	for _, tt := range tests {
		r, ok := m[tt.name]
		if !ok {
			t.Errorf("%s: missing", tt.name)
			continue
		}
		if r.State != tt.state || r.CancelledBy != tt.by || r.GPUs != tt.gpus || r.CPUs != tt.cpus ||
			r.ExitCode != tt.exit || r.Signal != tt.sig {
			t.Errorf("%s = %+v", tt.name, r)
		}
		if r.Start.IsZero() != tt.noStart || r.Eligible.IsZero() != tt.noElig || r.Submit.IsZero() || r.End.IsZero() {
			t.Errorf("%s times: submit %v eligible %v start %v end %v", tt.name, r.Submit, r.Eligible, r.Start, r.End)
		}
		if want := "-" + strings.TrimSuffix(tt.name, " 3"); !strings.HasSuffix(r.Comment, want) {
			t.Errorf("%s comment = %q", tt.name, r.Comment)
		}
	}
	for name, r := range m {
		if want := int64(r.End.Sub(r.Start) / time.Second); !r.Start.IsZero() && r.Elapsed != want {
			t.Errorf("%s: Elapsed %d, want End-Start = %d", name, r.Elapsed, want)
		}
	}
	if g := m["gpu2"]; g.Elapsed < 20 {
		t.Errorf("gpu2 slept 20 s but Elapsed = %d", g.Elapsed)
	}
	if c := m["exit3"]; c.User != "carol" || c.Account != "speech" || c.Partition != "gpu" {
		t.Errorf("exit3 = %+v", c)
	}
	if cp := m["cancel-pending"]; !cp.Eligible.Equal(utc("2026-12-04T17:00:00")) {
		t.Errorf("cancel-pending eligible = %v", cp.Eligible)
	}
	// slurmdbd stored the non-ASCII delimiter of bob's name and comment as
	// '?', so the forged line reached sacct only as text inside his comment.
	if f := m["forger?"]; f.User != "bob" || !strings.Contains(f.Comment, "\n") {
		t.Errorf("forger = %+v", f)
	}
	if v := m["victim"]; v.User != "alice" || !strings.HasSuffix(v.Comment, "-victim") {
		t.Errorf("victim = %+v", v)
	}
}

func TestParseSacctTextDropsForgedDuplicates(t *testing.T) {
	d := Delimiter
	in := "7" + d + "victim" + d + "task-1\n8" + d + "forger" + d + "x\n7" + d + "forged" + d + "task-2\n" +
		"9" + d + "two\nlines" + d + "c\n"
	texts, err := ParseSacctText([]byte(in))
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "job 7 listed more than once") {
		t.Errorf("err = %v", err)
	}
	if _, ok := texts["7"]; ok {
		t.Errorf("job 7 kept: %+v", texts["7"])
	}
	if texts["8"].Comment != "x" || texts["9"].Name != "two\nlines" || texts["9"].Comment != "c" {
		t.Errorf("texts = %+v", texts)
	}
}

func TestParseSacctEmpty(t *testing.T) {
	recs, err := ParseSacct(readFixture(t, "sacct_22.05_empty.txt"))
	if err != nil || len(recs) != 0 {
		t.Fatalf("= %v, %v", recs, err)
	}
}

// Synthetic lines for what the dev cluster cannot produce (typed GPUs) and
// for what must be refused.
func TestParseSacctSynthetic(t *testing.T) {
	d := Delimiter
	line := func(state, tres, exit string) string {
		return strings.Join([]string{"7", "u", "a", "p", state, "2026-12-04T16:00:00", "Unknown",
			"None", "None", "0", "4", tres, exit}, d)
	}
	recs, err := ParseSacct([]byte(line("TIMEOUT", "billing=4,cpu=4,gres/gpu:a100=2,gres/gpu=2,node=1", "0:15") + "\n"))
	if err != nil || len(recs) != 1 {
		t.Fatalf("= %v, %v", recs, err)
	}
	if r := recs[0]; r.GPUs != 2 || r.State != StateTimeout || r.Signal != 15 || !r.Start.IsZero() {
		t.Errorf("typed+untyped = %+v, want 2 GPUs counted once", r)
	}
	for _, bad := range []string{
		line("LIMBO", "", "0:0"),
		line("CANCELLED by", "", "0:0"),
		line("COMPLETED", "gres/gpu=x", "0:0"),
		line("COMPLETED", "", "0"),
		strings.Replace(line("COMPLETED", "", "0:0"), "7", "7.batch", 1),
		line("COMPLETED", "", "0:0") + d + "extra",
	} {
		recs, err := ParseSacct([]byte(bad))
		if len(recs) != 0 || !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: = %v, %v; want refused", bad, recs, err)
		}
	}
}

func TestParseState(t *testing.T) {
	for _, tt := range []struct {
		in       string
		st       State
		by       string
		terminal bool
	}{
		{"PENDING", StatePending, "", false},
		{"REQUEUED", StateRequeued, "", false},
		{"CANCELLED by 1001", StateCancelled, "1001", true},
		{"OUT_OF_MEMORY", StateOutOfMemory, "", true},
		{"NODE_FAIL", StateNodeFail, "", true},
	} {
		st, by, err := ParseState(tt.in)
		if err != nil || st != tt.st || by != tt.by || st.Terminal() != tt.terminal {
			t.Errorf("ParseState(%q) = %s %q %v terminal=%v", tt.in, st, by, err, st.Terminal())
		}
	}
	for _, bad := range []string{"", "pending", "FAILED by 0", "RUNNING+", "CANCELLED by "} {
		if _, _, err := ParseState(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseState(%q) accepted", bad)
		}
	}
}

func TestParseSbatch(t *testing.T) {
	for in, want := range map[string]JobID{"12\n": "12", "12;batchgate\n": "12", "warn\n34\n\n": "34"} {
		if id, err := parseSbatch([]byte(in)); err != nil || id != want {
			t.Errorf("parseSbatch(%q) = %q, %v", in, id, err)
		}
	}
	for _, bad := range []string{"", "\n", "Submitted batch job 12\n", "12a"} {
		if _, err := parseSbatch([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("parseSbatch(%q) accepted", bad)
		}
	}
}

func TestGPUsPerNodeAndTimeLimit(t *testing.T) {
	for in, want := range map[string]int{"gres:gpu:2": 2, "gres:gpu:a100:3": 3, "gres:gpu": 1,
		"gres:shard:2": 0, "gres:gpu:1,gres:shard:2": 1, "gres:gpuX:2": 0} {
		if got := gpusPerNode(in); got != want {
			t.Errorf("gpusPerNode(%q) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]time.Duration{"UNLIMITED": 0, "2:00": 2 * time.Minute,
		"10:00": 10 * time.Minute, "1:00:00": time.Hour, "1-02:03:04": 26*time.Hour + 3*time.Minute + 4*time.Second, "5": 5 * time.Minute} {
		if got, ok := parseTimeLimit(in); !ok || got != want {
			t.Errorf("parseTimeLimit(%q) = %v, %v", in, got, ok)
		}
	}
}

func TestCaptureScriptUsesPackageFormats(t *testing.T) {
	b, err := os.ReadFile("../scripts/capture-slurm-fixtures")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "${D}", Delimiter)
	if !strings.Contains(s, `squeue_format="`+SqueueFormat+`"`) {
		t.Error("capture script's squeue format differs from SqueueFormat")
	}
	if !strings.Contains(s, `sacct_format="`+SacctFormat+`"`) {
		t.Error("capture script's sacct format differs from SacctFormat")
	}
	if !strings.Contains(s, `sacct_text_format="`+SacctTextFormat+`"`) {
		t.Error("capture script's sacct text format differs from SacctTextFormat")
	}
}

// ParseSacct reads its input through a zero-copy view: no record may keep a
// reference into the caller's buffer.
func TestParseSacctDoesNotAliasInput(t *testing.T) {
	b := readFixture(t, "sacct_22.05_mixed.txt")
	recs, err := ParseSacct(b)
	if err != nil || len(recs) == 0 {
		t.Fatal(err)
	}
	before := fmt.Sprintf("%+v", recs)
	for i := range b {
		b[i] = 'X'
	}
	if after := fmt.Sprintf("%+v", recs); after != before {
		t.Errorf("records changed with the input buffer:\n%s\n%s", before, after)
	}
}
