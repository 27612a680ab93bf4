package sqlite

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"batchgate/gateway"
)

// synthUsage makes n ledger records over a year: 10 users in one project, 0-4 GPUs, 1 minute to
// about 8 hours (so about one job in ten spans a midnight).
func synthUsage(n int) []gateway.UsageRecord {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := make([]gateway.UsageRecord, n)
	for i := range n {
		at := start.Add(time.Duration(i) * (365 * 24 * time.Hour / time.Duration(n)))
		recs[i] = usageRec(fmt.Sprint(100000+i), fmt.Sprintf("u%d", i%10), "vision", at, int64(60+(i*7919)%28800), i%5, 1+i%8)
	}
	return recs
}

// BenchmarkUsageTotals100k is one project's totals (as its admin asks: a year, no grouping) over
// a ledger of 100,000 jobs, through the store's SumUsage: whole days from the per-day sums, the
// two edge days from their slices. p99-ms is the 99th
// percentile of the iterations; the target is under 50 ms.
func BenchmarkUsageTotals100k(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	if _, err := db.UpsertUsage(ctx, synthUsage(100000)); err != nil {
		b.Fatal(err)
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// A project admin's year, from and to at 08:00 so that the edge days are read from slices.
	from = from.Add(8 * time.Hour)
	f := gateway.UsageFilter{Scopes: []gateway.UsageScope{{Project: "vision"}}}
	f.SetRange(from, from.AddDate(1, 0, 0), time.UTC)
	var took []time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		rows, err := db.SumUsage(ctx, f)
		took = append(took, time.Since(t0))
		var jobs int64
		for _, r := range rows {
			jobs += r.Jobs
		}
		if err != nil || len(rows) != 2 || jobs < 99900 {
			b.Fatalf("totals: %+v %v", rows, err)
		}
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
