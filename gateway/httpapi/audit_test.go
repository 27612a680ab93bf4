package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"batchgate/gateway"
)

type auditPage struct {
	Items      []gateway.AuditEntry `json:"items"`
	NextCursor string               `json:"next_cursor"`
}

func (w *world) audit(t *testing.T, persona, query string) (int, auditPage) {
	t.Helper()
	status, raw := w.do(t, w.server(), persona, "GET", "/api/v1/audit"+query, "", "")
	var page auditPage
	if status == 200 {
		if err := json.Unmarshal(raw, &page); err != nil {
			t.Fatalf("audit page: %v %s", err, raw)
		}
	}
	return status, page
}

func TestAuditRecordsEveryChangeWithItsResult(t *testing.T) {
	w := newWorld(t) // bob created bobs-box; carol created and started carols-box
	a := w.createThroughAPI(t, owner, "vision", "audited", "echo hi", true)
	srv := w.server()
	if status, _ := w.do(t, srv, peer, "POST", "/api/v1/containers/"+a.id+"/stop", "", ""); status != 404 {
		t.Fatalf("bob stops alice's: %d", status)
	}
	if status, _ := w.do(t, srv, owner, "POST", "/api/v1/containers", `{"name":`, ""); status != 400 {
		t.Fatalf("malformed create: %d", status)
	}
	w.do(t, srv, padmin, "POST", "/api/v1/containers/"+a.id+"/stop", "", "")
	if status, _ := w.do(t, srv, padmin, "DELETE", "/api/v1/containers/"+a.id, "", ""); status != 204 {
		t.Fatalf("vic deletes: %d", status)
	}
	w.do(t, srv, owner, "GET", "/api/v1/containers/"+a.id, "", "") // reads are not changes

	status, all := w.audit(t, sadmin, "")
	if status != 200 {
		t.Fatalf("root reads the audit: %d", status)
	}
	var got []string
	for _, e := range all.Items {
		if e.Remote == "" || e.At.IsZero() || !strings.Contains(e.Detail, "HTTP ") {
			t.Errorf("entry lacks where/when/status: %+v", e)
		}
		got = append(got, strings.Join([]string{e.Actor, e.Action, e.Resource, e.Project, e.Result}, " "))
	}
	want := []string{
		"vic container.delete " + a.id + " vision ok", // the project survives the deletion
		"vic container.stop " + a.id + " vision ok",
		"alice container.create   invalid", // unreadable, refused before the Service: still recorded
		"bob container.stop " + a.id + " vision not_found",
		"alice container.start " + a.id + " vision ok",
		"alice container.create " + a.id + " vision ok",
		"carol container.start " + w.carols.id + " speech ok",
		"carol container.create " + w.carols.id + " speech ok",
		"bob container.create " + w.bobs.id + " vision ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAuditReadersAndFilters(t *testing.T) {
	w := newWorld(t)
	// vic (admin of vision) sees vision only; carol (admin of speech) speech only.
	for persona, project := range map[string]string{padmin: "vision", oadmin: "speech"} {
		status, page := w.audit(t, persona, "")
		if status != 200 || len(page.Items) == 0 {
			t.Fatalf("%s reads the audit: %d %+v", persona, status, page)
		}
		for _, e := range page.Items {
			if e.Project != project {
				t.Errorf("%s sees an entry of %q: %+v", persona, e.Project, e)
			}
		}
	}
	if status, _ := w.audit(t, oadmin, "?project=vision"); status != 403 {
		t.Errorf("carol asks for vision's entries: %d, want 403", status)
	}
	if status, page := w.audit(t, sadmin, "?actor=bob"); status != 200 || len(page.Items) != 1 || page.Items[0].Resource != w.bobs.id {
		t.Errorf("root filters by actor: %d %+v", status, page)
	}
	if status, page := w.audit(t, sadmin, "?action=container.start&project=speech"); status != 200 || len(page.Items) != 1 {
		t.Errorf("root filters by action and project: %d %+v", status, page)
	}
	status, raw := w.do(t, w.server(), sadmin, "GET", "/api/v1/audit?since=yesterday&limit=0", "", "")
	if status != 400 || !strings.Contains(string(raw), `"field":"since"`) || !strings.Contains(string(raw), `"field":"limit"`) {
		t.Errorf("bad filters: %d %s, want 400 naming since and limit", status, raw)
	}
	// Pages of one walk the whole trail once, newest first.
	var ids []int64
	cursor := ""
	for range 10 {
		status, page := w.audit(t, sadmin, "?limit=1&cursor="+cursor)
		if status != 200 {
			t.Fatalf("page: %d", status)
		}
		for _, e := range page.Items {
			ids = append(ids, e.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	_, all := w.audit(t, sadmin, "")
	if len(ids) != len(all.Items) || len(ids) != 3 || ids[0] <= ids[1] || ids[1] <= ids[2] {
		t.Errorf("paged ids %v, all %d entries", ids, len(all.Items))
	}
	if status, _ := w.audit(t, sadmin, "?cursor=xyz"); status != 422 {
		t.Errorf("bad cursor: %d, want 422", status)
	}
}

func TestAuditEntriesOfDeletedUsersStay(t *testing.T) {
	w := newWorld(t)
	// An audit entry cannot be edited or removed through the store.
	if _, err := w.db.AppendAudit(context.Background(), gateway.AuditEntry{Actor: "x", Action: "y"}); err != nil {
		t.Fatal(err)
	}
	_, page := w.audit(t, sadmin, "?actor=x")
	if len(page.Items) != 1 {
		t.Fatalf("appended entry not read back: %+v", page)
	}
}
