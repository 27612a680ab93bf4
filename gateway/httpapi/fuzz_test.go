package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
)

// FuzzCreateContainer sends any body to POST /api/v1/containers through the whole server (strict
// decoding, the request's spec, the Service's validation, a real SQLite store): the answer is
// never a 5xx; it is either 201 with the container the body asked for, or a problem document
// whose status matches the HTTP status.
func FuzzCreateContainer(f *testing.F) {
	for _, s := range []string{
		goodSpec,
		`{"project":"vision","name":"at","image":"pytorch","flavor":"gpu-1","command":"x","schedule":{"kind":"at","at":"2099-01-01T10:00"}}`,
		`{"project":"vision","name":"at2","image":"pytorch","flavor":"gpu-1","command":"x","schedule":{"kind":"at","at":"2099-01-01T10:00:00+05:30"}}`,
		`{"project":"vision","name":"env","image":"pytorch","flavor":"gpu-1","command":"x","env":[{"name":"A_1","value":"it's $HOME"}]}`,
		`{"project":"vision","name":"bad env","image":"pytorch","flavor":"gpu-1","command":"x","env":[{"name":"1A","value":""}]}`,
		`{"project":"vision","name":"t","schedule":{"kind":"weekly"}}`,
		`{"project":"vision","name":"t","schedule":{"kind":"at","at":"yesterday"}}`,
		`{"project":1}`, `{"nope":true}`, `{} {}`, `[]`, `null`, ``, `{"env":[null]}`, `{"schedule":null}`,
		`{"project":"vision","name":"\u0000\n","image":"../../etc/passwd","flavor":"gpu-1","command":""}`,
		`{"projeCt":"vision","nAme":" 0000","image":"pytorch","flavor":"gpu-1","commAnd":"n.py"}`, // found by the fuzzer
	} {
		f.Add(s)
	}
	a := newAPI(f, time.UTC)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/containers", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+a.tokens["alice"])
		resp, err := a.srv.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for %q: %s", resp.StatusCode, body, raw)
		}
		if resp.StatusCode == 201 {
			var got gateway.Container
			var sent struct{ Project, Name, Image, Command string }
			if err := json.Unmarshal(raw, &got); err != nil || got.ID == "" {
				t.Fatalf("201 without a container: %v %s", err, raw)
			}
			if err := json.Unmarshal([]byte(body), &sent); err != nil {
				t.Fatalf("201 for a body encoding/json cannot read: %v", err)
			}
			// The spec is canonicalised before it is checked: names and references lose surrounding space.
			trim := strings.TrimSpace
			if got.Project != sent.Project || got.Name != trim(sent.Name) || got.Image != trim(sent.Image) || got.Command != sent.Command {
				t.Fatalf("created %+v from %q", got, body)
			}
			return
		}
		var p problem
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Fatalf("status %d with Content-Type %q: %s", resp.StatusCode, ct, raw)
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.Status != resp.StatusCode || p.Title == "" {
			t.Fatalf("status %d with a bad problem %s: %v", resp.StatusCode, raw, err)
		}
	})
}
