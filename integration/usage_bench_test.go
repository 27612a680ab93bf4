package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/daemon"
	"batchgate/gateway/sqlite"
	"batchgate/slurm"
)

// BenchmarkUsageTotalsSacctVsLedger answers "project vision's totals over the last year" both
// ways on the dev cluster: by sacct (what a portal without a ledger does on every request) and from
// the gateway's ledger (after one ingestion of the same window), for the same jobs. The window is
// as long as BenchmarkUsageTotals100k's (gateway/sqlite), so the sacct sub-benchmark is the
// baseline of that figure too. Each sub-benchmark reports p99-ms, the 99th percentile of its
// iterations, and jobs, the number of jobs the answer covers. The sacct side is the slurm client's
// read of one window: two sacct calls (the figures, then names and comments by job id).
func BenchmarkUsageTotalsSacctVsLedger(b *testing.B) {
	if os.Getenv("SLURM_CONF") == "" {
		b.Skip("dev cluster not configured: run `make test`, or `eval \"$(scripts/devcluster env)\"` first")
	}
	ctx := context.Background()
	// One sacct window for the whole year, as a portal without a ledger would ask (the client's
	// default cuts a query into days, which is the ingestion's concern, not this question's).
	client, err := slurm.New(slurm.Config{Env: []string{"SLURM_CONF=" + os.Getenv("SLURM_CONF")}, MaxWindow: 367 * 24 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	to := time.Now().UTC().Truncate(time.Second)
	from := to.AddDate(-1, 0, 0)
	const project = "vision"
	b.Run("sacct", func(b *testing.B) {
		var took []time.Duration
		jobs := 0
		for b.Loop() {
			t0 := time.Now()
			recs, err := client.Accounting(ctx, slurm.AcctQuery{From: from, To: to, Accounts: []string{project}})
			took = append(took, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			jobs = len(recs)
		}
		reportP99(b, took)
		b.ReportMetric(float64(jobs), "jobs")
	})
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.AddProject(ctx, gateway.Project{Name: project, CreatedAt: to}); err != nil {
		b.Fatal(err)
	}
	u := gateway.NewUsage(gateway.UsageConfig{Cluster: "batchgate"}, db, sacctSource{client}, nil)
	if _, _, err := u.IngestRange(ctx, from, to); err != nil {
		b.Fatal(err)
	}
	q := gateway.UsageQuery{Project: project, From: from, To: to}
	root := gateway.Principal{User: "root", SiteAdmin: true}
	b.Run("ledger", func(b *testing.B) {
		var took []time.Duration
		var jobs int64
		for b.Loop() {
			t0 := time.Now()
			rep, err := u.Report(ctx, root, q)
			took = append(took, time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			jobs = rep.Totals.Jobs
		}
		reportP99(b, took)
		b.ReportMetric(float64(jobs), "jobs")
	})
}

// reportP99 reports the 99th percentile of took as the metric p99-ms.
func reportP99(b *testing.B, took []time.Duration) {
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}

// sacctSource reads the ledger's input straight from the slurm client, mapped like the daemon.
type sacctSource struct{ c *slurm.Client }

func (s sacctSource) UsageRecords(ctx context.Context, from, to time.Time, accounts []string) ([]gateway.JobStatus, error) {
	recs, err := s.c.Accounting(ctx, slurm.AcctQuery{From: from, To: to, Accounts: accounts})
	if err != nil {
		return nil, err
	}
	out := make([]gateway.JobStatus, len(recs))
	for i, r := range recs {
		out[i] = daemon.AcctStatus(r)
	}
	return out, nil
}
