package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestUnauthorizedSaysWhichCase checks each refused token gets a 401 problem saying why, naming
// neither the user nor the token.
func TestUnauthorizedSaysWhichCase(t *testing.T) {
	w := newWorld(t)
	w.tokens["unknown"] = "bg_" + strings.Repeat("A", 43)
	w.tokens["foreign"] = "ghp_not-ours"
	for persona, says := range map[string]string{
		anon:      "send a token",
		"unknown": "unknown token",
		"foreign": "not a batchgate token",
		revoked:   "revoked",
		expired:   "expired",
		disabled:  "disabled",
	} {
		status, raw := w.do(t, w.server(), persona, "GET", "/api/v1/flavors", "", "")
		var p problem
		_ = json.Unmarshal(raw, &p)
		if status != 401 || p.Status != 401 || p.Type != "urn:batchgate:problem:unauthorized" || !strings.Contains(p.Title, says) {
			t.Errorf("%s: %d %s, want a 401 problem saying %q", persona, status, raw, says)
		}
		for _, name := range []string{"alice", "dave", expired, revoked} {
			if strings.Contains(string(raw), name) {
				t.Errorf("%s: the problem names %q: %s", persona, name, raw)
			}
		}
	}
}

func TestAuthorizationHeaderForms(t *testing.T) {
	w := newWorld(t)
	for header, want := range map[string]int{
		"Bearer " + w.tokens[owner]:          200,
		"bearer " + w.tokens[owner]:          200,
		"Bearer   " + w.tokens[owner] + "  ": 200,
		"Basic " + w.tokens[owner]:           401,
		"Bearer":                             401,
		"Bearer " + w.tokens[owner] + " x":   401,
		w.tokens[owner]:                      401,
	} {
		req := httptest.NewRequest("GET", "/api/v1/flavors", nil)
		req.Header.Set("Authorization", header)
		resp, err := w.server().App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Authorization %.20q...: %d, want %d", header, resp.StatusCode, want)
		}
	}
	// A token in the query string is not a credential.
	req := httptest.NewRequest("GET", "/api/v1/flavors?access_token="+w.tokens[owner], nil)
	resp, err := w.server().App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("token in the query: %d, want 401", resp.StatusCode)
	}
}

// TestRepeatedFailuresAreSlowedDown: after ten failures from one address even a valid token waits
// (429 with Retry-After), and a new server (a restart) starts afresh.
func TestRepeatedFailuresAreSlowedDown(t *testing.T) {
	w := newWorld(t)
	srv := w.server()
	for i := range 10 {
		if status, _ := w.do(t, srv, revoked, "GET", "/api/v1/flavors", "", ""); status != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, status)
		}
	}
	req := httptest.NewRequest("GET", "/api/v1/flavors", nil)
	req.Header.Set("Authorization", "Bearer "+w.tokens[owner])
	resp, err := srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("valid token after 10 failures: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if status, _ := w.do(t, srv, "", "GET", "/healthz", "", ""); status != 200 {
		t.Errorf("health checks are not limited: %d", status)
	}
}
