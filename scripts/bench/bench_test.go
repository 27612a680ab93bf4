package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkShip-2                	       3	 619632270 ns/op	 108.30 MB/s	         2.436 cpu-s/GiB	34104712 B/op	    1756 allocs/op
BenchmarkParseSacct100k        	      10	 118300000 ns/op	33100000 B/op	  100023 allocs/op
--- SKIP: BenchmarkOther
PASS
`)
	got := parseBench(out)
	if len(got) != 2 {
		t.Fatalf("parsed %d benchmarks, want 2: %v", len(got), got)
	}
	s := got["BenchmarkShip"]
	if s["ns/op"] != 619632270 || s["MB/s"] != 108.30 || s["cpu-s/GiB"] != 2.436 || s["B/op"] != 34104712 {
		t.Errorf("BenchmarkShip = %v", s)
	}
	if got["BenchmarkParseSacct100k"]["B/op"] != 33100000 {
		t.Errorf("BenchmarkParseSacct100k = %v", got["BenchmarkParseSacct100k"])
	}
}

func TestPercentile(t *testing.T) {
	var d durations
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if p := d.pct(50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v, want 50ms", p)
	}
	if p := d.pct(99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v, want 99ms", p)
	}
	if d[0] != 100*time.Millisecond {
		t.Error("pct sorted the caller's slice")
	}
	if p := (durations{}).pct(50); p != 0 {
		t.Errorf("p50 of nothing = %v", p)
	}
}

func TestReportVerdicts(t *testing.T) {
	f := Figure{Name: "submit", Unit: "ms", Value: 21}.withBaseline("bare sbatch", 20)
	f = f.check("overhead ≤ 5%", *f.Ratio <= 1.05)
	g := Figure{Name: "list", Unit: "req/s", Value: 10}.check("≥ 5000", false)
	r := Report{Figures: []Figure{f, g, {Name: "info", Value: 1}}}
	if r.failed() != 1 {
		t.Errorf("failed = %d, want 1", r.failed())
	}
	var buf bytes.Buffer
	r.print(&buf)
	for _, want := range []string{"1.05x", "20.0 ms (bare sbatch)", "FAIL", "3 figures, 1 missed"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestCallsByCommand(t *testing.T) {
	got := callsByCommand(map[string]int64{"sbatch": 1}, map[string]int64{"sbatch": 11, "squeue": 3})
	if !strings.HasPrefix(got, "sbatch 10, squeue 3,") {
		t.Errorf("callsByCommand = %q", got)
	}
}

func TestFormatRatio(t *testing.T) {
	for r, want := range map[float64]string{1.1549: "1.15x", 0.1: "0.10x", 0.0024413: "0.0024x", 0: "0.00x", 4.2371: "4.24x"} {
		if got := formatRatio(r); got != want {
			t.Errorf("formatRatio(%v) = %q, want %q", r, got, want)
		}
	}
}
