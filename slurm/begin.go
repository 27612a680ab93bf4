package slurm

import "time"

// beginLayout is the one --begin syntax Slurm and Go both read the same way.
const beginLayout = "2006-01-02T15:04:05"

// NextWholeHour returns the first instant strictly after now at which the
// wall clock in loc shows a whole hour (minute and second zero). It is right
// across DST changes (on the night clocks go back, 01:30 EDT is followed by
// 01:00 EST, one real hour later; on the night they go forward, 01:30 EST is
// followed by 03:00 EDT) and in zones with half- or quarter-hour offsets,
// because it steps through real instants instead of doing wall-clock
// arithmetic. A nil loc means UTC.
func NextWholeHour(now time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	// Every modern UTC offset is a multiple of 15 minutes, so a local whole
	// hour always falls on a UTC quarter hour.
	c := now.UTC().Truncate(15 * time.Minute)
	for {
		c = c.Add(15 * time.Minute)
		l := c.In(loc)
		if l.Minute() == 0 && l.Second() == 0 {
			return l
		}
	}
}

// BeginValue formats t for sbatch's --begin: the UTC wall-clock time to the
// second (sub-seconds are dropped). sbatch reads --begin in the local zone of
// its own process, so the value names t exactly only when sbatch runs with
// TZ=UTC; Client always runs it so, and rendered scripts say so.
func BeginValue(t time.Time) string {
	return t.UTC().Format(beginLayout)
}

// parseSlurmTime reads a time Slurm printed with TZ=UTC and
// SLURM_TIME_FORMAT=standard. "Unknown", "None", "NONE", "N/A" and "" (no such time)
// give the zero time.
func parseSlurmTime(s string) (time.Time, bool) {
	switch s {
	case "", "Unknown", "None", "NONE", "N/A":
		return time.Time{}, true
	}
	t, err := time.Parse(beginLayout, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
