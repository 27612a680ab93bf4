package gateway

import (
	"fmt"
	"time"
)

// ScheduleKind says when a container's task runs once it is started.
type ScheduleKind string

// Schedule kinds.
const (
	ScheduleManual ScheduleKind = "manual" // run as soon as it is started
	ScheduleAt     ScheduleKind = "at"     // run at a whole hour (Slurm --begin)
)

// Schedule is a container's schedule. At is set only for ScheduleAt.
type Schedule struct {
	Kind ScheduleKind `json:"kind"`
	At   *time.Time   `json:"at,omitempty"`
}

// NextWholeHour returns the first whole hour in loc strictly after now: the earliest time a
// schedule set at now may name. It walks the absolute timeline in quarter hours — every zone's
// offset is a multiple of 15 minutes, so every local hh:00 falls on one — and takes the first
// instant that reads hh:00 in loc. That stays right across DST changes (including Lord Howe's
// 30-minute one) and in zones whose offset is not a whole number of hours (Asia/Kolkata: hh:00
// local is hh:30 UTC).
func NextWholeHour(now time.Time, loc *time.Location) time.Time {
	t := now.Truncate(15 * time.Minute)
	for range 8 { // two hours of quarter hours: more than any DST shift needs
		t = t.Add(15 * time.Minute)
		if IsWholeHour(t, loc) {
			return t.In(loc)
		}
	}
	// Only historical local mean times have offsets off the quarter hour: the top of the next
	// local hour, by arithmetic.
	local := now.In(loc)
	since := time.Duration(local.Minute())*time.Minute + time.Duration(local.Second())*time.Second +
		time.Duration(local.Nanosecond())
	return local.Add(time.Hour - since)
}

// IsWholeHour reports whether t, read in loc, falls exactly on the hour.
func IsWholeHour(t time.Time, loc *time.Location) bool {
	l := t.In(loc)
	return l.Minute() == 0 && l.Second() == 0 && l.Nanosecond() == 0
}

// CheckScheduledHour validates a scheduled time set at now: it must be a whole hour in loc, no
// earlier than NextWholeHour(now). It returns a message naming the earliest acceptable hour, or "".
func CheckScheduledHour(at, now time.Time, loc *time.Location) string {
	earliest := NextWholeHour(now, loc)
	switch {
	case !IsWholeHour(at, loc):
		return fmt.Sprintf("must be a whole hour in the cluster's time zone (%s), e.g. %s", loc, earliest.Format(time.RFC3339))
	case at.Before(earliest):
		return fmt.Sprintf("must be no earlier than the next whole hour, %s", earliest.Format(time.RFC3339))
	}
	return ""
}

// ParseLocalHour reads "YYYY-MM-DDTHH:00" (no offset) as a wall-clock hour in loc. It refuses an
// hour that does not exist there (inside a DST gap) and one that is ambiguous (a repeated hour),
// since the user could not know which instant they would get.
func ParseLocalHour(s string, loc *time.Location) (time.Time, error) {
	layout := "2006-01-02T15:04"
	if len(s) > len(layout) {
		layout += ":05"
	}
	// The wall clock as written, read in UTC where every wall time exists exactly once.
	written, err := time.Parse(layout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a local time: use RFC 3339 with an offset, or YYYY-MM-DDTHH:00 in %s", loc)
	}
	t := time.Date(written.Year(), written.Month(), written.Day(), written.Hour(), written.Minute(), written.Second(), 0, loc)
	wall := func(x time.Time) string { return x.In(loc).Format("2006-01-02T15:04:05") }
	want := written.Format("2006-01-02T15:04:05")
	if wall(t) != want {
		return time.Time{}, fmt.Errorf("%s does not exist in %s (a daylight-saving gap)", s, loc)
	}
	if wall(t.Add(-time.Hour)) == want || wall(t.Add(time.Hour)) == want {
		return time.Time{}, fmt.Errorf("%s happens twice in %s (a daylight-saving overlap): give an offset", s, loc)
	}
	return t, nil
}
