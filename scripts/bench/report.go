package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Figure is one measured figure: batchgate's Value, the Baseline measured in the same run (when
// there is one), Ratio = Value/Baseline, and the Target with its verdict (Pass nil: no target).
type Figure struct {
	Group        string   `json:"group"`
	Name         string   `json:"name"`
	Unit         string   `json:"unit"`
	Value        float64  `json:"value"`
	BaselineName string   `json:"baseline_name,omitempty"`
	Baseline     *float64 `json:"baseline,omitempty"`
	Ratio        *float64 `json:"ratio,omitempty"`
	Target       string   `json:"target,omitempty"`
	Pass         *bool    `json:"pass,omitempty"`
	Note         string   `json:"note,omitempty"`
}

// Report is the whole run, as written to JSON.
type Report struct {
	At      time.Time         `json:"at"`
	Took    string            `json:"took"`
	Options map[string]string `json:"options"`
	Figures []Figure          `json:"figures"`
}

func ptr[T any](v T) *T { return &v }

// withBaseline sets the baseline and the ratio.
func (f Figure) withBaseline(name string, v float64) Figure {
	f.BaselineName, f.Baseline = name, ptr(v)
	if v != 0 {
		f.Ratio = ptr(f.Value / v)
	}
	return f
}

// check sets the target text and the verdict.
func (f Figure) check(target string, ok bool) Figure {
	f.Target, f.Pass = target, ptr(ok)
	return f
}

func (r Report) failed() int {
	n := 0
	for _, f := range r.Figures {
		if f.Pass != nil && !*f.Pass {
			n++
		}
	}
	return n
}

func num(v float64) string {
	switch a := math.Abs(v); {
	case v == 0:
		return "0"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.01:
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2g", v)
}

func (r Report) print(w io.Writer) {
	fmt.Fprintf(w, "\nbatchgate bench, %s (took %s)\n\n", r.At.Format(time.RFC3339), r.Took)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tFIGURE\tBATCHGATE\tBASELINE\tRATIO\tTARGET\tPASS")
	for _, f := range r.Figures {
		base, ratio, pass := "-", "-", "-"
		if f.Baseline != nil {
			base = num(*f.Baseline) + " " + f.Unit + " (" + f.BaselineName + ")"
		}
		if f.Ratio != nil {
			ratio = formatRatio(*f.Ratio)
		}
		if f.Pass != nil {
			pass = map[bool]string{true: "ok", false: "FAIL"}[*f.Pass]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", f.Group, f.Name, num(f.Value), f.Unit, base, ratio, f.Target, pass)
	}
	tw.Flush()
	var notes []string
	for _, f := range r.Figures {
		if f.Note != "" {
			notes = append(notes, "  "+f.Name+": "+f.Note)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nnotes:\n%s\n", strings.Join(notes, "\n"))
	}
	fmt.Fprintf(w, "\n%d figures, %d missed their target\n", len(r.Figures), r.failed())
}

func (r Report) write(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// durations summarises latency samples.
type durations []time.Duration

func (d durations) pct(p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// formatRatio shows two decimals, or two significant digits for a ratio under 0.1 (a ledger read
// against sacct is 0.0024x, not 0.00x).
func formatRatio(r float64) string {
	if r != 0 && r < 0.1 {
		return fmt.Sprintf("%.2gx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}
