package slurm

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// repeatFixture builds n lines from a captured fixture's well-formed lines
// (ok says which), giving each a fresh job id so the input looks like a big
// real cluster.
func repeatFixture(b *testing.B, name string, n int, ok func(string) bool) []byte {
	b.Helper()
	var lines []string
	for _, l := range strings.Split(string(readFixture(b, name)), "\n") {
		if ok(l) {
			lines = append(lines, l)
		}
	}
	var buf bytes.Buffer
	for i := range n {
		l := lines[i%len(lines)]
		_, rest, _ := strings.Cut(l, Delimiter)
		buf.WriteString(strconv.Itoa(100000 + i))
		buf.WriteString(Delimiter)
		buf.WriteString(rest)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkParseSqueue1000(b *testing.B) {
	in := repeatFixture(b, "squeue_22.05_active.txt", 1000,
		func(l string) bool { _, bad := parseSqueueLine(l); return bad == "" })
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		jobs, err := ParseSqueue(in)
		if err != nil || len(jobs) != 1000 {
			b.Fatalf("%d jobs, %v", len(jobs), err)
		}
	}
}

func BenchmarkParseSacct100k(b *testing.B) {
	in := repeatFixture(b, "sacct_22.05_mixed.txt", 100_000,
		func(l string) bool { _, bad := parseSacctLine(l); return bad == "" })
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		recs, err := ParseSacct(in)
		if err != nil || len(recs) != 100_000 {
			b.Fatalf("%d records, %v", len(recs), err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	spec := fullSpec()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(spec, nil); err != nil {
			b.Fatal(err)
		}
	}
}
