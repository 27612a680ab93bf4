package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"batchgate/gateway"
	"batchgate/gateway/daemon"
	"batchgate/gateway/sqlite"
)

// usageCmd runs `batchgate usage`: the usage ledger's report, read from the gateway's database
// directly (like admin), with a site admin's view. The ledger is filled by a running gateway.
func usageCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var in gateway.UsageQueryInput
	var asCSV bool
	cfg, err := loadConfig("usage", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&in.Project, "project", "", "project (Slurm account); empty: all")
		fs.StringVar(&in.User, "user", "", "Unix login; empty: all")
		fs.StringVar(&in.From, "from", "", "start: RFC 3339 or YYYY-MM-DD (default: start of this month)")
		fs.StringVar(&in.To, "to", "", "end: RFC 3339 or YYYY-MM-DD, inclusive (default: now)")
		fs.StringVar(&in.GroupBy, "by", "", "group by day, week, month, user or project")
		fs.BoolVar(&asCSV, "csv", false, "write CSV instead of a table")
	})
	if err != nil {
		return err
	}
	db, err := sqlite.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	u := gateway.NewUsage(daemon.UsageConfig(cfg), db, nil, nil)
	q, err := u.ParseQuery(in)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	rep, err := u.Report(ctx, gateway.Principal{User: "root", SiteAdmin: true}, q)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	if asCSV {
		return rep.WriteCSV(stdout)
	}
	return writeUsageTable(stdout, rep)
}

func writeUsageTable(w io.Writer, rep *gateway.UsageReport) error {
	fmt.Fprintf(w, "usage %s .. %s", rep.From.Format("2006-01-02 15:04 MST"), rep.To.Format("2006-01-02 15:04 MST"))
	if rep.Project != "" {
		fmt.Fprintf(w, ", project %s", rep.Project)
	}
	if rep.User != "" {
		fmt.Fprintf(w, ", user %s", rep.User)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	first := rep.GroupBy
	if first == "" {
		first = " "
	}
	fmt.Fprintf(tw, "%s\tjobs\tGPUs\tGPU hours\tCPU hours\tcost (%s)\t\n", first, rep.Currency)
	line := func(key string, f gateway.UsageFigures) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t\n", key, f.Jobs, f.GPUs, f.GPUHours, f.CPUHours, f.Cost)
	}
	for _, b := range rep.Series {
		line(b.Key, b.UsageFigures)
	}
	line("total", rep.Totals)
	return tw.Flush()
}
