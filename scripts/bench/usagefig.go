package main

import (
	"context"
	"fmt"
	"strings"
)

// usage takes issue 8's figures from the packages' usage benchmarks: one project's totals over a
// ledger of 100,000 jobs (p99, target under 50 ms) against sacct for a window as long on the dev
// cluster, the same question both ways over the dev cluster's own jobs, and ingesting 100,000
// sacct records (target under 5 s).
func (b *bench) usage(ctx context.Context) error {
	var errs []string
	totals, err := goBench(ctx, "./gateway/sqlite/", "^BenchmarkUsageTotals100k$", "100x")
	if err != nil {
		errs = append(errs, err.Error())
	}
	vs, err := goBench(ctx, "./integration/", "^BenchmarkUsageTotalsSacctVsLedger$", "20x")
	if err != nil {
		errs = append(errs, err.Error())
	}
	sacct, ledger := vs["BenchmarkUsageTotalsSacctVsLedger/sacct"], vs["BenchmarkUsageTotalsSacctVsLedger/ledger"]
	if t := totals["BenchmarkUsageTotals100k"]; t != nil {
		p99 := t["p99-ms"]
		f := Figure{Group: "usage", Name: "project totals, 100,000-job ledger, a year (p99)", Unit: "ms", Value: p99,
			Note: "ledger: p99 of 100 SumUsage calls over 100,000 synthetic rows (gateway/sqlite BenchmarkUsageTotals100k)"}
		if sacct != nil {
			f = f.withBaseline("sacct, a year of one project", sacct["p99-ms"])
			f.Note += fmt.Sprintf("; baseline: p99 of 20 sacct reads of project vision over the last year on the dev cluster, "+
				"which holds %.0f such jobs (sacct over 100,000 jobs would be slower)", sacct["jobs"])
		}
		b.add(f.check("< 50 ms p99", p99 > 0 && p99 < 50))
	}
	if sacct != nil && ledger != nil {
		b.add(Figure{Group: "usage", Name: fmt.Sprintf("project totals, dev cluster's %.0f jobs, a year (p99)", ledger["jobs"]),
			Unit: "ms", Value: ledger["p99-ms"],
			Note: "the usage report (domain and SQLite) after one ingestion of the same window, against the sacct read it " +
				"replaces, same jobs (integration BenchmarkUsageTotalsSacctVsLedger, 20 iterations each)"}.
			withBaseline("sacct, same window and jobs", sacct["p99-ms"]))
	}
	if r, err := goBench(ctx, "./gateway/daemon/", "^BenchmarkIngest100k$", "3x"); err != nil {
		errs = append(errs, err.Error())
	} else {
		in := r["BenchmarkIngest100k"]
		b.add(Figure{Group: "usage", Name: "ingest 100,000 sacct records", Unit: "s", Value: in["max-s"],
			Note: fmt.Sprintf("parse, map to day slices and prices, upsert into a fresh ledger: the slowest of 3 runs "+
				"(mean %.2f s; gateway/daemon BenchmarkIngest100k); sacct's own time is not included", in["ns/op"]/1e9)}.
			check("< 5 s", in["max-s"] > 0 && in["max-s"] < 5))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
