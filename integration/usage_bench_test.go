package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/daemon"
	"batchgate/gateway/sqlite"
	"batchgate/slurm"
)

// BenchmarkUsageTotalsSacctVsLedger answers "the projects' GPU-seconds over the last 24 hours"
// both ways on the dev cluster: by sacct (what a portal without a ledger does on every request)
// and from the gateway's ledger (after one ingestion of the same window). Compare the two
// sub-benchmarks' ns/op; they run in the same process, one after the other.
func BenchmarkUsageTotalsSacctVsLedger(b *testing.B) {
	if os.Getenv("SLURM_CONF") == "" {
		b.Skip("dev cluster not configured: run `make test`, or `eval \"$(scripts/devcluster env)\"` first")
	}
	ctx := context.Background()
	client, err := slurm.New(slurm.Config{Env: []string{"SLURM_CONF=" + os.Getenv("SLURM_CONF")}})
	if err != nil {
		b.Fatal(err)
	}
	to := time.Now().UTC().Truncate(time.Second)
	from := to.Add(-24 * time.Hour)
	accounts := []string{"vision", "speech"}
	b.Run("sacct", func(b *testing.B) {
		for b.Loop() {
			if _, err := client.Accounting(ctx, slurm.AcctQuery{From: from, To: to, Accounts: accounts}); err != nil {
				b.Fatal(err)
			}
		}
	})
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ledger.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, p := range accounts {
		if err := db.AddProject(ctx, gateway.Project{Name: p, CreatedAt: to}); err != nil {
			b.Fatal(err)
		}
	}
	u := gateway.NewUsage(gateway.UsageConfig{Cluster: "batchgate"}, db, sacctSource{client}, nil)
	if _, _, err := u.IngestRange(ctx, from, to); err != nil {
		b.Fatal(err)
	}
	q := gateway.UsageQuery{From: from, To: to}
	root := gateway.Principal{User: "root", SiteAdmin: true}
	b.Run("ledger", func(b *testing.B) {
		for b.Loop() {
			if _, err := u.Report(ctx, root, q); err != nil {
				b.Fatal(err)
			}
		}
	})
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
