package gateway

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// This file holds the usage ledger's domain: one record per Slurm job (from sacct), its figures and
// its split into calendar days. usage_query.go answers questions about the ledger and
// usage_ingest.go fills it.

// UsageRecord is one Slurm job in the usage ledger, keyed by (Cluster, JobID). Account is the
// job's Slurm account, which is the gateway's project. FromGateway is true when the job's comment
// names a task of the gateway that matches the job's user and account (TaskID is then that task);
// such jobs are priced at the task's flavor price, others at the configured per-GPU-hour and
// per-CPU-hour prices.
type UsageRecord struct {
	Cluster     string    `json:"cluster"`
	JobID       string    `json:"job_id"`
	User        string    `json:"user"`
	Account     string    `json:"project"`
	Partition   string    `json:"partition"`
	Name        string    `json:"name"`
	State       TaskState `json:"state"`
	SubmitAt    time.Time `json:"submit_at"`
	StartAt     time.Time `json:"start_at"` // zero when the job never started
	EndAt       time.Time `json:"end_at"`   // zero while it runs
	ElapsedSec  int64     `json:"elapsed_seconds"`
	GPUs        int       `json:"gpus"`
	CPUs        int       `json:"cpus"`
	GPUSeconds  int64     `json:"gpu_seconds"`
	CPUSeconds  int64     `json:"cpu_seconds"`
	Cost        float64   `json:"cost"`
	Currency    string    `json:"currency"`
	FromGateway bool      `json:"from_gateway"`
	TaskID      string    `json:"task_id,omitempty"`
	// CostPerSecond is Cost spread evenly over the elapsed time, so that a part of the job (one
	// day of it, or the part inside a query's range) costs its share.
	CostPerSecond float64 `json:"-"`
	// Slices are the job's elapsed time cut at midnights of the cluster's time zone.
	Slices []UsageSlice `json:"-"`
}

// UsageSlice is the part of a job's elapsed time that falls within one calendar day of the
// cluster's time zone: [Start, End). Day is that day as YYYY-MM-DD. Starts is true for the slice
// in which the job started; a job that never ran (cancelled while pending) gets one empty slice
// at its end (or submit) time, so it is still counted once.
type UsageSlice struct {
	Day    string
	Start  time.Time
	End    time.Time
	Starts bool
}

// UsagePrices prices jobs that did not come from the gateway (and gateway jobs whose task has no
// price): per GPU hour plus per CPU hour, in Currency.
type UsagePrices struct {
	PerGPUHour float64
	PerCPUHour float64
	Currency   string
}

// NewUsageRecord builds the ledger record of one sacct allocation record. task is the gateway
// task the job belongs to, or nil for a job from outside the gateway. The figures are exact
// integers of seconds (ElapsedRaw times the allocation); cost follows the task's price per hour,
// else prices. A job that has not ended yet (EndAt zero) is sliced up to StartAt+ElapsedSec, as
// sacct reports it at the time of reading.
func NewUsageRecord(cluster string, js JobStatus, task *Task, prices UsagePrices, loc *time.Location) UsageRecord {
	r := UsageRecord{
		Cluster: cluster, JobID: js.JobID, User: js.User, Account: js.Account, Partition: js.Partition,
		Name: js.Name, State: js.State, SubmitAt: js.SubmitAt.UTC(), StartAt: js.StartAt.UTC(), EndAt: js.EndAt.UTC(),
		ElapsedSec: max(js.ElapsedSec, 0), GPUs: max(js.GPUs, 0), CPUs: max(js.CPUs, 0),
	}
	if js.StartAt.IsZero() {
		r.ElapsedSec = 0 // never ran: no usage, whatever else the record says
	}
	r.GPUSeconds = r.ElapsedSec * int64(r.GPUs)
	r.CPUSeconds = r.ElapsedSec * int64(r.CPUs)
	hours := float64(r.ElapsedSec) / 3600
	if task != nil {
		r.FromGateway, r.TaskID = true, task.ID
	}
	if task != nil && task.PricePerHour > 0 {
		r.Cost, r.Currency = hours*task.PricePerHour, task.Currency
	} else {
		r.Cost = float64(r.GPUSeconds)/3600*prices.PerGPUHour + float64(r.CPUSeconds)/3600*prices.PerCPUHour
		r.Currency = prices.Currency
	}
	if r.ElapsedSec > 0 {
		r.CostPerSecond = r.Cost / float64(r.ElapsedSec)
	}
	r.Slices = SplitDays(r.anchor(), r.ElapsedSec, loc)
	return r
}

// anchor is where a job's usage starts on the time line: its start, or for a job that never
// ran its end (its cancel time), or its submit time.
func (r UsageRecord) anchor() time.Time {
	switch {
	case !r.StartAt.IsZero():
		return r.StartAt
	case !r.EndAt.IsZero():
		return r.EndAt
	}
	return r.SubmitAt
}

// SplitDays cuts [start, start+elapsedSec) at every midnight of loc. Days are calendar days, so a
// day on which the clocks change is 23 or 25 hours long. A zero elapsed time gives one empty
// slice at start; the first slice has Starts set.
func SplitDays(start time.Time, elapsedSec int64, loc *time.Location) []UsageSlice {
	if loc == nil {
		loc = time.UTC
	}
	end := start.Add(time.Duration(elapsedSec) * time.Second)
	var out []UsageSlice
	cur := start
	for {
		local := cur.In(loc)
		y, m, d := local.Date()
		next := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		s := UsageSlice{Day: local.Format(time.DateOnly), Start: cur.UTC(), End: minTime(next, end).UTC(), Starts: len(out) == 0}
		out = append(out, s)
		if !next.Before(end) {
			return out
		}
		cur = next
	}
}

// Digest is a fingerprint of everything the ledger keeps of r: an upsert whose digest equals the
// stored one changes nothing.
func (r UsageRecord) Digest() string {
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%d|%d|%d|%d|%d|%s|%s|%t|%s", r.User, r.Account, r.Partition,
		strconv.Quote(r.Name), r.State, unixString(r.SubmitAt), r.StartAt.Unix(), r.EndAt.Unix(), r.ElapsedSec,
		r.GPUs, r.CPUs, strconv.FormatFloat(r.Cost, 'g', -1, 64), r.Currency, r.FromGateway, r.TaskID)
}

func unixString(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// UsageSource reads accounting records of whole Slurm accounts (every job, whoever submitted it)
// that were active in [from, to), in bounded windows. Errors carry CodeUnavailable when the
// accounting daemon cannot be reached.
type UsageSource interface {
	UsageRecords(ctx context.Context, from, to time.Time, accounts []string) ([]JobStatus, error)
}

// UsageStore keeps the usage ledger. Methods return a CodeNotFound *Error for a missing thing,
// never a zero value with a nil error.
type UsageStore interface {
	// UpsertUsage inserts or replaces records keyed by (Cluster, JobID), with their day slices,
	// and returns how many were new or different; an identical record changes nothing.
	UpsertUsage(ctx context.Context, recs []UsageRecord) (changed int, err error)
	// UsageWatermark is the end of the last ingested window of cluster (CodeNotFound before the
	// first one).
	UsageWatermark(ctx context.Context, cluster string) (time.Time, error)
	SetUsageWatermark(ctx context.Context, cluster string, at time.Time) error
	// SumUsage adds up the usage that f selects, clipped to [f.From, f.To), grouped by f.By; rows
	// may repeat a key (callers add them up).
	SumUsage(ctx context.Context, f UsageFilter) ([]UsageRow, error)
	// Projects lists the projects, whose Slurm accounts are ingested.
	Projects(ctx context.Context) ([]Project, error)
	// Task returns a gateway task by id, to recognise the gateway's own jobs.
	Task(ctx context.Context, id string) (*Task, error)
}

// UsageScope is one (project, user) pair a caller may see; an empty User means every user of
// Project.
type UsageScope struct {
	Project string
	User    string
}

// UsageFilter selects ledger slices for SumUsage. All false and Scopes empty selects nothing;
// All true selects every project (narrowed by Project and User when not empty). Set the range
// with SetRange: the days wholly inside [From, To) are read from per-day sums, only the days
// at its edges from the slices themselves.
type UsageFilter struct {
	All           bool
	Scopes        []UsageScope
	Project, User string // with All only
	From, To      time.Time
	// FullFrom..FullTo (YYYY-MM-DD, FullTo excluded) are the days wholly inside [From, To);
	// EdgeDays the days only partly inside it.
	FullFrom, FullTo string
	EdgeDays         []string
	By               UsageKey // "" for one total row
}

// SetRange sets [from, to) and the days it covers wholly or partly, in loc.
func (f *UsageFilter) SetRange(from, to time.Time, loc *time.Location) {
	f.From, f.To = from, to
	lf, lt := from.In(loc), to.In(loc)
	f.FullFrom, f.FullTo, f.EdgeDays = lf.Format(time.DateOnly), lt.Format(time.DateOnly), nil
	if !isMidnight(lf) {
		f.EdgeDays = append(f.EdgeDays, f.FullFrom)
		y, m, d := lf.Date()
		f.FullFrom = time.Date(y, m, d+1, 0, 0, 0, 0, loc).Format(time.DateOnly)
	}
	if !isMidnight(lt) && (len(f.EdgeDays) == 0 || f.EdgeDays[0] != f.FullTo) {
		f.EdgeDays = append(f.EdgeDays, f.FullTo)
	}
	if f.FullFrom > f.FullTo {
		f.FullFrom = f.FullTo
	}
}

func isMidnight(t time.Time) bool {
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// UsageKey is what SumUsage groups by.
type UsageKey string

// The store's grouping keys; weeks and months are folded from days by the Service.
const (
	ByNone    UsageKey = ""
	ByDay     UsageKey = "day"
	ByUser    UsageKey = "user"
	ByProject UsageKey = "project"
)

// UsageRow is one group of SumUsage: Key is the day (YYYY-MM-DD), user or project.
type UsageRow struct {
	Key string
	UsageFigures
}

// UsageFigures are sums over jobs. Jobs counts jobs that started in the period (a job that never
// ran counts where it ended); GPU and CPU seconds and cost count only the time inside the period.
type UsageFigures struct {
	Jobs int64 `json:"jobs"`
	// GPUs is the GPU count: the GPUs allocated by the jobs counted in Jobs.
	GPUs       int64   `json:"gpus"`
	GPUSeconds int64   `json:"gpu_seconds"`
	CPUSeconds int64   `json:"cpu_seconds"`
	GPUHours   float64 `json:"gpu_hours"`
	CPUHours   float64 `json:"cpu_hours"`
	Cost       float64 `json:"cost"`
}

// Add adds o's sums to f (hours are recomputed by Finish).
func (f *UsageFigures) Add(o UsageFigures) {
	f.Jobs += o.Jobs
	f.GPUs += o.GPUs
	f.GPUSeconds += o.GPUSeconds
	f.CPUSeconds += o.CPUSeconds
	f.Cost += o.Cost
}

// Finish derives the hours from the seconds and rounds the cost to cents.
func (f *UsageFigures) Finish() {
	f.GPUHours = float64(f.GPUSeconds) / 3600
	f.CPUHours = float64(f.CPUSeconds) / 3600
	f.Cost = float64(int64(f.Cost*100+0.5)) / 100
}
