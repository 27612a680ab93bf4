package slurm

import (
	"testing"
	"time"
)

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("no zoneinfo for %s: %v", name, err)
	}
	return loc
}

func TestNextWholeHour(t *testing.T) {
	tests := []struct {
		zone, now, want string // now and want in RFC 3339 with offset
	}{
		{"UTC", "2026-12-04T16:27:13Z", "2026-12-04T17:00:00Z"},
		{"UTC", "2026-12-04T16:00:00Z", "2026-12-04T17:00:00Z"}, // strictly after
		{"UTC", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z"},
		// Half- and quarter-hour offsets: the local hour, not the UTC one.
		{"Asia/Kolkata", "2026-12-04T10:40:00+05:30", "2026-12-04T11:00:00+05:30"},
		{"Asia/Kathmandu", "2026-12-04T10:50:00+05:45", "2026-12-04T11:00:00+05:45"},
		{"Australia/Adelaide", "2026-12-04T10:10:00+10:30", "2026-12-04T11:00:00+10:30"},
		// New York, clocks back at 02:00 EDT on 2026-11-01: 01:30 EDT is
		// followed by 01:00 EST, one real hour later.
		{"America/New_York", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00"},
		{"America/New_York", "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00"},
		// Clocks forward at 02:00 EST on 2026-03-08: 02:00 does not exist.
		{"America/New_York", "2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00"},
		// Lord Howe moves by 30 minutes: 02:00 +10:30 becomes 02:30 +11.
		{"Australia/Lord_Howe", "2026-10-04T01:40:00+10:30", "2026-10-04T03:00:00+11:00"},
	}
	for _, tt := range tests {
		loc := mustLoad(t, tt.zone)
		now, _ := time.Parse(time.RFC3339, tt.now)
		want, _ := time.Parse(time.RFC3339, tt.want)
		got := NextWholeHour(now, loc)
		if !got.Equal(want) || got.Location() != loc {
			t.Errorf("%s %s: got %s, want %s", tt.zone, tt.now, got.Format(time.RFC3339), tt.want)
		}
	}
}

func TestBeginValueIsUTC(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	// 01:00 EST on the fall-back night is written unambiguously.
	b := time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC).In(ny)
	if got := BeginValue(b); got != "2026-11-01T06:00:00" {
		t.Errorf("BeginValue = %s", got)
	}
	if got := BeginValue(b.Add(999 * time.Millisecond)); got != "2026-11-01T06:00:00" {
		t.Errorf("sub-second BeginValue = %s", got)
	}
}
