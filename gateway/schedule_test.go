package gateway

import (
	"strings"
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestNextWholeHour(t *testing.T) {
	cases := []struct {
		zone, now, want string // now and want in RFC 3339
	}{
		{"UTC", "2026-12-04T16:25:12Z", "2026-12-04T17:00:00Z"},
		{"UTC", "2026-12-04T16:00:00Z", "2026-12-04T17:00:00Z"}, // on the hour: the next one
		{"UTC", "2026-12-31T23:59:59.5Z", "2027-01-01T00:00:00Z"},
		// Half-hour offset: whole hours are hh:00 local = hh:30 UTC.
		{"Asia/Kolkata", "2026-12-04T16:25:00Z", "2026-12-04T16:30:00Z"},
		{"Asia/Kolkata", "2026-12-04T16:30:00Z", "2026-12-04T17:30:00Z"},
		// 45-minute offset.
		{"Asia/Kathmandu", "2026-12-04T16:00:00Z", "2026-12-04T16:15:00Z"},
		// US spring forward (2026-03-08 02:00 EST -> 03:00 EDT): after 01:30 EST comes 03:00 EDT.
		{"America/New_York", "2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z"},
		// US fall back (2026-11-01 02:00 EDT -> 01:00 EST): 01:30 EDT is followed by 01:00 EST.
		{"America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z"},
		{"Asia/Taipei", "2026-12-04T16:25:12Z", "2026-12-04T17:00:00Z"},
		// Lord Howe moves its clocks by 30 minutes: on 2026-10-04 02:00 (+10:30) becomes 02:30
		// (+11:00), so after 01:45 local the next whole hour is 03:00 local.
		{"Australia/Lord_Howe", "2026-10-03T15:15:00Z", "2026-10-03T16:00:00Z"},
		// Before 1854 Kolkata kept local mean time, +05:53:28: no quarter hour is a whole hour there.
		{"Asia/Kolkata", "1850-01-01T00:00:00Z", "1850-01-01T00:06:32Z"},
	}
	for _, c := range cases {
		now, _ := time.Parse(time.RFC3339Nano, c.now)
		want, _ := time.Parse(time.RFC3339, c.want)
		loc := mustLoc(t, c.zone)
		got := NextWholeHour(now, loc)
		if !got.Equal(want) {
			t.Errorf("%s at %s: got %s, want %s", c.zone, c.now, got.UTC().Format(time.RFC3339), c.want)
		}
		if !IsWholeHour(got, loc) {
			t.Errorf("%s: %s is not a whole hour there", c.zone, got)
		}
	}
}

func TestCheckScheduledHour(t *testing.T) {
	loc := mustLoc(t, "Asia/Kolkata")
	now, _ := time.Parse(time.RFC3339, "2026-12-04T16:25:00Z")
	ok, _ := time.Parse(time.RFC3339, "2026-12-04T22:00:00+05:30")
	if msg := CheckScheduledHour(ok, now, loc); msg != "" {
		t.Errorf("next whole hour refused: %s", msg)
	}
	notWhole, _ := time.Parse(time.RFC3339, "2026-12-04T17:00:00Z") // 22:30 local
	if msg := CheckScheduledHour(notWhole, now, loc); !strings.Contains(msg, "whole hour") {
		t.Errorf("22:30 local accepted or wrong message: %q", msg)
	}
	past, _ := time.Parse(time.RFC3339, "2026-12-04T21:00:00+05:30")
	if msg := CheckScheduledHour(past, now, loc); !strings.Contains(msg, "2026-12-04T22:00:00+05:30") {
		t.Errorf("past hour message %q does not name the earliest hour", msg)
	}
}

func TestParseLocalHourRefusesDSTGapsAndOverlaps(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	if _, err := ParseLocalHour("2026-03-08T02:00", ny); err == nil || !strings.Contains(err.Error(), "gap") {
		t.Errorf("02:00 on spring-forward day: %v, want a gap error", err)
	}
	if _, err := ParseLocalHour("2026-11-01T01:00", ny); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("01:00 on fall-back day: %v, want an overlap error", err)
	}
	got, err := ParseLocalHour("2026-12-05T16:00", ny)
	if err != nil || !got.Equal(time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)) {
		t.Errorf("2026-12-05T16:00 New York = %v, %v", got, err)
	}
}
