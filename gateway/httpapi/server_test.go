package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
)

func newTestServer(checks ...Check) *Server {
	return New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Checks: checks})
}

func TestReadyzNamesEveryFailingCheck(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	s := newTestServer(Check{"database", ok}, Check{"slurm", down}, Check{"cos", down})
	resp, err := s.App().Test(httptest.NewRequest("GET", "/readyz", nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	var body struct {
		Failing []string                  `json:"failing"`
		Checks  map[string]map[string]any `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if len(body.Failing) != 2 || body.Failing[0] != "slurm" || body.Failing[1] != "cos" {
		t.Errorf("failing = %v, want [slurm cos]", body.Failing)
	}
	if body.Checks["slurm"]["error"] != "connection refused" || body.Checks["database"]["ok"] != true {
		t.Errorf("checks = %v", body.Checks)
	}
}

func TestReadyzAllGood(t *testing.T) {
	s := newTestServer(Check{"database", func(context.Context) error { return nil }})
	resp, err := s.App().Test(httptest.NewRequest("GET", "/readyz", nil))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp.StatusCode, err)
	}
}

func TestUnknownRouteIsAProblemWithRequestID(t *testing.T) {
	s := newTestServer()
	req := httptest.NewRequest("GET", "/nope", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	resp, err := s.App().Test(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var p Problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p.Status != 404 || p.Type != problemBase+"not-found" || p.RequestID != "abc-123" || p.Instance != "/nope" {
		t.Errorf("problem = %+v", p)
	}
	if resp.Header.Get("X-Request-ID") != "abc-123" {
		t.Errorf("request id not echoed")
	}
}
