package httpapi

import (
	"strings"
	"testing"
	"time"
)

func TestBearerToken(t *testing.T) {
	for _, tc := range []struct {
		header, token, says string
	}{
		{"Bearer bg_abc", "bg_abc", ""},
		{"bearer bg_abc", "bg_abc", ""},
		{"BEARER   bg_abc  ", "bg_abc", ""},
		{"", "", "send a token"},
		{"   ", "", "send a token"},
		{"Bearer", "", "no token"},
		{"Bearer    ", "", "no token"},
		{"Basic YWxpY2U6eA==", "", "scheme must be Bearer"},
		{"Bearerbg_abc", "", "scheme must be Bearer"},
		{"Token bg_abc", "", "scheme must be Bearer"},
		{"Bearer bg_a bc", "", "malformed"},
		{"Bearer bg_a\tbc", "", "malformed"},
		{"Bearer bg_äbc", "", "malformed"},
		{"Bearer " + strings.Repeat("x", maxTokenLength+1), "", "malformed"},
	} {
		token, err := bearerToken(tc.header)
		switch {
		case tc.says == "" && (err != nil || token != tc.token):
			t.Errorf("%q: %q, %v; want %q", tc.header, token, err, tc.token)
		case tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)):
			t.Errorf("%q: %q, %v; want an error saying %q", tc.header, token, err, tc.says)
		}
	}
}

func TestFailureLimiterSlowsOneAddressDown(t *testing.T) {
	l := newFailureLimiter()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range failureBurst - 1 {
		l.fail("10.0.0.1", t0.Add(time.Duration(i)*time.Second))
	}
	if w := l.wait("10.0.0.1", t0.Add(10*time.Second)); w != 0 {
		t.Fatalf("after %d failures: wait %v, want none", failureBurst-1, w)
	}
	l.fail("10.0.0.1", t0.Add(10*time.Second))
	if w := l.wait("10.0.0.1", t0.Add(10*time.Second)); w != failureWindow-10*time.Second {
		t.Fatalf("after %d failures: wait %v, want the rest of the window (%v)", failureBurst, w, failureWindow-10*time.Second)
	}
	if w := l.wait("10.0.0.2", t0.Add(10*time.Second)); w != 0 {
		t.Errorf("another address waits %v", w)
	}
	if w := l.wait("10.0.0.1", t0.Add(failureWindow+time.Second)); w != 0 {
		t.Errorf("after the window: wait %v, want none", w)
	}
	// A new window starts counting from one.
	l.fail("10.0.0.1", t0.Add(failureWindow+time.Second))
	if w := l.wait("10.0.0.1", t0.Add(failureWindow+2*time.Second)); w != 0 {
		t.Errorf("one failure in a new window: wait %v", w)
	}
}
