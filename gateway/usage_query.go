package gateway

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"
)

// UsageConfig is what the usage ledger needs to know about the site.
type UsageConfig struct {
	// Cluster names the Slurm cluster in the ledger's key.
	Cluster  string
	Location *time.Location
	Prices   UsagePrices
	// MaxRange is the longest from..to a query may span.
	MaxRange time.Duration
	// Window is the span of one ingestion step, Overlap how far each step reaches back before the
	// watermark (late records, state changes), Backfill how far back the very first step starts.
	Window, Overlap, Backfill time.Duration
	// Interval is the period of the ingestion loop; StepsPerTick bounds the windows read per tick
	// when catching up after downtime.
	Interval     time.Duration
	StepsPerTick int
	Now          func() time.Time
}

// Usage answers questions about the usage ledger and keeps it filled from Slurm's accounting.
type Usage struct {
	cfg    UsageConfig
	store  UsageStore
	source UsageSource
	log    *slog.Logger
}

// NewUsage builds the usage service. Zero durations get defaults (window 6h, overlap 1h, backfill
// 7 days, interval 1m, max range 366 days, 4 steps per tick).
func NewUsage(cfg UsageConfig, store UsageStore, source UsageSource, log *slog.Logger) *Usage {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Window, 6*time.Hour)
	def(&cfg.Overlap, time.Hour)
	def(&cfg.Backfill, 7*24*time.Hour)
	def(&cfg.Interval, time.Minute)
	def(&cfg.MaxRange, 366*24*time.Hour)
	if cfg.StepsPerTick <= 0 {
		cfg.StepsPerTick = 4
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Usage{cfg: cfg, store: store, source: source, log: log}
}

// Location is the time zone days are cut in.
func (u *Usage) Location() *time.Location { return u.cfg.Location }

// UsageQuery is a validated usage question: [From, To) of whom, grouped how.
type UsageQuery struct {
	Project string
	User    string
	From    time.Time
	To      time.Time
	GroupBy string // "", day, week, month, user or project
}

// UsageQueryInput is a usage question as text, from the API or the CLI.
type UsageQueryInput struct {
	Project, User, From, To, GroupBy string
}

var groupBys = []string{"", "day", "week", "month", "user", "project"}

// ParseQuery checks in and reports every problem at once (CodeInvalid with field errors). From and
// To are RFC 3339 instants or dates (YYYY-MM-DD, in the cluster's zone): a date From means the
// start of that day, a date To the end of it (so from=to=one date is that day). From defaults to
// the start of the current month, To to now; To must be after From and the range at most MaxRange.
func (u *Usage) ParseQuery(in UsageQueryInput) (UsageQuery, error) {
	q := UsageQuery{Project: in.Project, User: in.User, GroupBy: in.GroupBy}
	var p Problems
	now := u.cfg.Now().In(u.cfg.Location)
	y, m, _ := now.Date()
	q.From, q.To = time.Date(y, m, 1, 0, 0, 0, 0, u.cfg.Location), now
	var okFrom, okTo = true, true
	if in.From != "" {
		q.From, okFrom = parseUsageTime(in.From, u.cfg.Location, false)
		if !okFrom {
			p.Add("from", "must be RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02), got %q", in.From)
		}
	}
	if in.To != "" {
		q.To, okTo = parseUsageTime(in.To, u.cfg.Location, true)
		if !okTo {
			p.Add("to", "must be RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02, inclusive), got %q", in.To)
		}
	}
	if okFrom && okTo {
		switch {
		case !q.To.After(q.From):
			p.Add("to", "must be after from (%s)", q.From.Format(time.RFC3339))
		case q.To.Sub(q.From) > u.cfg.MaxRange:
			p.Add("to", "the range may span at most %s", u.cfg.MaxRange)
		}
	}
	if !slices.Contains(groupBys, q.GroupBy) {
		p.Add("group_by", "accepted: day, week, month, user, project; got %q", q.GroupBy)
	}
	if len(q.Project) > 200 {
		p.Add("project", "is too long")
	}
	if len(q.User) > 200 {
		p.Add("user", "is too long")
	}
	return q, p.Err("the usage query has problems")
}

func parseUsageTime(s string, loc *time.Location, endOfDay bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	d, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil {
		return time.Time{}, false
	}
	if endOfDay {
		d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
	}
	return d, true
}

// UsageReport is the answer to a UsageQuery: totals over [From, To), and the series of groups
// when GroupBy is set (days, weeks and months are labelled by their first day; weeks start on
// Monday; empty groups are left out).
type UsageReport struct {
	From     time.Time     `json:"from"`
	To       time.Time     `json:"to"`
	Project  string        `json:"project,omitempty"`
	User     string        `json:"user,omitempty"`
	GroupBy  string        `json:"group_by,omitempty"`
	Currency string        `json:"currency"`
	Totals   UsageFigures  `json:"totals"`
	Series   []UsageBucket `json:"series"`
}

// UsageBucket is one group of a report's series.
type UsageBucket struct {
	Key string `json:"key"`
	UsageFigures
}

// Report answers q for p, scoped by role: a site admin sees every project, a project admin every
// member of the projects they administer, a member only their own jobs in their projects. Asking
// for a project p has no role in is CodeNotFound (as for any resource p may not see); asking for
// another user than oneself as a member gives empty figures, since the scope filters them out.
func (u *Usage) Report(ctx context.Context, p Principal, q UsageQuery) (*UsageReport, error) {
	f, err := usageFilter(p, q)
	if err != nil {
		return nil, err
	}
	f.SetRange(q.From, q.To, u.cfg.Location)
	switch q.GroupBy {
	case "day", "week", "month":
		f.By = ByDay
	case "user":
		f.By = ByUser
	case "project":
		f.By = ByProject
	}
	rep := &UsageReport{From: q.From.In(u.cfg.Location), To: q.To.In(u.cfg.Location), Project: q.Project,
		User: q.User, GroupBy: q.GroupBy, Currency: u.cfg.Prices.Currency, Series: []UsageBucket{}}
	if !f.All && len(f.Scopes) == 0 {
		return rep, nil
	}
	rows, err := u.store.SumUsage(ctx, f)
	if err != nil {
		return nil, err
	}
	var order []string
	groups := map[string]*UsageBucket{}
	for _, r := range rows {
		rep.Totals.Add(r.UsageFigures)
		key := foldDay(r.Key, q.GroupBy)
		b, ok := groups[key]
		if !ok {
			b = &UsageBucket{Key: key}
			groups[key] = b
			order = append(order, key)
		}
		b.Add(r.UsageFigures)
	}
	rep.Totals.Finish()
	if q.GroupBy == "" {
		return rep, nil
	}
	slices.Sort(order)
	for _, k := range order {
		b := groups[k]
		b.Finish()
		rep.Series = append(rep.Series, *b)
	}
	return rep, nil
}

// usageFilter turns p's roles and q's project and user into the store's filter.
func usageFilter(p Principal, q UsageQuery) (UsageFilter, error) {
	if p.SiteAdmin {
		return UsageFilter{All: true, Project: q.Project, User: q.User}, nil
	}
	if q.Project != "" {
		if _, ok := p.Projects[q.Project]; !ok {
			return UsageFilter{}, NotFound("project", q.Project)
		}
	}
	var f UsageFilter
	names := make([]string, 0, len(p.Projects))
	for name := range p.Projects {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if q.Project != "" && name != q.Project {
			continue
		}
		switch p.Projects[name] {
		case RoleAdmin:
			f.Scopes = append(f.Scopes, UsageScope{Project: name, User: q.User})
		case RoleMember:
			if q.User == "" || q.User == p.User {
				f.Scopes = append(f.Scopes, UsageScope{Project: name, User: p.User})
			}
		}
	}
	return f, nil
}

// foldDay maps a day key to its week (its Monday) or month (its first day); other keys stay.
func foldDay(key, groupBy string) string {
	if groupBy != "week" && groupBy != "month" {
		return key
	}
	d, err := time.Parse(time.DateOnly, key)
	if err != nil {
		return key
	}
	if groupBy == "month" {
		return d.Format("2006-01") + "-01"
	}
	back := (int(d.Weekday()) + 6) % 7 // days since Monday
	return d.AddDate(0, 0, -back).Format(time.DateOnly)
}

// WriteCSV writes the report as CSV: a header, one line per group, then a "total" line. The
// first column is named after the grouping ("total" when there is none).
func (r *UsageReport) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	first := r.GroupBy
	if first == "" {
		first = "total"
	}
	_ = cw.Write([]string{first, "jobs", "gpus", "gpu_seconds", "cpu_seconds", "gpu_hours", "cpu_hours", "cost", "currency"})
	line := func(key string, f UsageFigures) {
		_ = cw.Write([]string{key, strconv.FormatInt(f.Jobs, 10), strconv.FormatInt(f.GPUs, 10), strconv.FormatInt(f.GPUSeconds, 10),
			strconv.FormatInt(f.CPUSeconds, 10), strconv.FormatFloat(f.GPUHours, 'f', 4, 64),
			strconv.FormatFloat(f.CPUHours, 'f', 4, 64), strconv.FormatFloat(f.Cost, 'f', 2, 64), r.Currency})
	}
	for _, b := range r.Series {
		line(b.Key, b.UsageFigures)
	}
	line("total", r.Totals)
	cw.Flush()
	return cw.Error()
}
