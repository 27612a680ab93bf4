package gateway

import (
	"strings"
	"testing"
	"time"
)

// fuzzZones are the zones the time-rule fuzz target picks from: whole-hour offsets with and
// without DST, the half- and quarter-hour offsets that break naive hour arithmetic, and Lord Howe,
// whose DST shift is half an hour (there the next whole hour can be 90 minutes away).
var fuzzZones = []string{"UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
	"America/St_Johns", "Australia/Adelaide", "Asia/Taipei", "Australia/Lord_Howe"}

// FuzzTimeRules checks the scheduling rules' invariants for any instant, zone and text:
// NextWholeHour is a whole hour in (now, now+1h]; CheckScheduledHour accepts it and refuses the
// hour before it and any non-whole time; ParseLocalHour never panics, returns the wall clock it
// was given, and round-trips what it accepts.
func FuzzTimeRules(f *testing.F) {
	f.Add(time.Date(2026, 12, 4, 16, 25, 12, 0, time.UTC).UnixNano(), uint8(0), "2026-12-04T17:00")
	f.Add(time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC).UnixNano(), uint8(2), "2026-03-08T02:00")   // NY gap
	f.Add(time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC).UnixNano(), uint8(2), "2026-11-01T01:00")  // NY overlap
	f.Add(time.Date(2026, 3, 29, 0, 59, 59, 0, time.UTC).UnixNano(), uint8(1), "2026-03-29T02:00") // Berlin gap
	f.Add(time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC).UnixNano(), uint8(4), "2026-12-04T22:00:00")
	f.Add(int64(0), uint8(3), "not a time")
	f.Add(int64(-1), uint8(5), "2026-02-30T10:00")
	locs := make([]*time.Location, len(fuzzZones))
	for i, z := range fuzzZones {
		loc, err := time.LoadLocation(z)
		if err != nil {
			f.Fatal(err)
		}
		locs[i] = loc
	}
	f.Fuzz(func(t *testing.T, nanos int64, zone uint8, s string) {
		loc := locs[int(zone)%len(locs)]
		now := time.Unix(0, nanos)
		next := NextWholeHour(now, loc)
		if !next.After(now) || next.Sub(now) > 90*time.Minute || !IsWholeHour(next, loc) {
			t.Fatalf("NextWholeHour(%s, %s) = %s", now.In(loc), loc, next.In(loc))
		}
		// No whole hour is skipped: none lies between now and next (whole hours fall on quarter hours).
		for q := now.Truncate(15 * time.Minute).Add(15 * time.Minute); q.Before(next); q = q.Add(15 * time.Minute) {
			if q.After(now) && IsWholeHour(q, loc) {
				t.Fatalf("NextWholeHour(%s, %s) = %s skips %s", now.In(loc), loc, next.In(loc), q.In(loc))
			}
		}
		if msg := CheckScheduledHour(next, now, loc); msg != "" {
			t.Fatalf("CheckScheduledHour refuses the next whole hour %s: %s", next.In(loc), msg)
		}
		if CheckScheduledHour(next.Add(-time.Hour), now, loc) == "" {
			t.Fatalf("CheckScheduledHour accepts %s, before the next whole hour %s", next.Add(-time.Hour).In(loc), next.In(loc))
		}
		if CheckScheduledHour(next.Add(time.Minute), now, loc) == "" {
			t.Fatalf("CheckScheduledHour accepts %s, not a whole hour", next.Add(time.Minute).In(loc))
		}
		// The next whole hour written as a wall clock reads back as itself, or is refused as
		// ambiguous (the repeated hour of a DST overlap).
		wall := next.In(loc).Format("2006-01-02T15:04")
		if back, err := ParseLocalHour(wall, loc); err != nil {
			if !strings.Contains(err.Error(), "twice") {
				t.Fatalf("ParseLocalHour(%q) refuses an existing hour: %v", wall, err)
			}
		} else if !back.Equal(next) {
			t.Fatalf("ParseLocalHour(%q) = %s, want %s", wall, back, next)
		}
		checkParseLocal(t, s, loc)
	})
}

// checkParseLocal: what ParseLocalHour accepts shows, in loc, the wall clock written, and
// re-parses to the same instant.
func checkParseLocal(t *testing.T, s string, loc *time.Location) {
	t.Helper()
	got, err := ParseLocalHour(s, loc)
	if err != nil {
		if !got.IsZero() {
			t.Fatalf("ParseLocalHour(%q) refused but returned %s", s, got)
		}
		return
	}
	layout := "2006-01-02T15:04"
	if len(s) > len(layout) {
		layout += ":05"
	}
	written, err := time.Parse(layout, s)
	if err != nil {
		t.Fatalf("ParseLocalHour(%q) accepted text time.Parse refuses: %v", s, err)
	}
	if w, g := written.Format(time.DateTime), got.In(loc).Format(time.DateTime); w != g {
		t.Fatalf("ParseLocalHour(%q) = %s in %s, want wall clock %s", s, g, loc, w)
	}
	again, err := ParseLocalHour(got.In(loc).Format("2006-01-02T15:04:05"), loc)
	if err != nil || !again.Equal(got) {
		t.Fatalf("ParseLocalHour round trip of %q: %s, %v; want %s", s, again, err, got)
	}
}
