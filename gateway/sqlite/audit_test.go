package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
)

func TestAuditAppendFilterAndAppendOnly(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	entries := []AuditEntry{
		{At: t0, Actor: "alice", Action: "container.create", Resource: "c1", Remote: "10.0.0.1", Result: "ok"},
		{At: t0.Add(time.Minute), Actor: "bob", Action: "container.start", Resource: "c2", Result: "conflict"},
		{At: t0.Add(2 * time.Minute), Actor: "alice", Action: "container.start", Resource: "c1", Detail: "task t1", Result: "ok"},
		{At: t0.Add(3 * time.Minute), Actor: "root", Action: "token.revoke", Resource: "tok1", Result: "ok"},
	}
	var ids []int64
	for _, e := range entries {
		id, err := db.AppendAudit(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	_, err := db.AppendAudit(ctx, AuditEntry{Action: "x"})
	wantCode(t, err, gateway.CodeInvalid)

	all, err := db.Audit(ctx, AuditFilter{})
	if err != nil || len(all) != 4 || all[0].ID != ids[3] || all[3].Remote != "10.0.0.1" || !all[3].At.Equal(t0) {
		t.Fatalf("Audit() = %+v (%v)", all, err)
	}
	count := func(f AuditFilter) int {
		got, err := db.Audit(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return len(got)
	}
	for name, tc := range map[string]struct {
		f    AuditFilter
		want int
	}{
		"actor":    {AuditFilter{Actor: "alice"}, 2},
		"action":   {AuditFilter{Action: "container.start"}, 2},
		"resource": {AuditFilter{Resource: "c1", Actor: "alice"}, 2},
		"window":   {AuditFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, 2},
		"before":   {AuditFilter{BeforeID: ids[2]}, 2},
		"limit":    {AuditFilter{Limit: 3}, 3},
	} {
		if got := count(tc.f); got != tc.want {
			t.Errorf("%s: %d entries, want %d", name, got, tc.want)
		}
	}
	if _, err := db.db.ExecContext(ctx, "UPDATE audit SET result = 'forged'"); err == nil {
		t.Error("audit row was updated")
	}
	if _, err := db.db.ExecContext(ctx, "DELETE FROM audit"); err == nil {
		t.Error("audit rows were deleted")
	}
	if n := count(AuditFilter{}); n != 4 {
		t.Errorf("after tampering attempts: %d entries", n)
	}
}

func TestAuditProjectFilters(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for _, e := range []AuditEntry{
		{Actor: "alice", Action: "container.create", Resource: "c1", Project: "vision", Result: "ok"},
		{Actor: "carol", Action: "container.create", Resource: "c2", Project: "speech", Result: "ok"},
		{Actor: "root", Action: "admin.user.add", Resource: "user/dave", Result: "ok"},
	} {
		if _, err := db.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for name, tc := range map[string]struct {
		f    AuditFilter
		want string
	}{
		"one project":         {AuditFilter{Project: "speech"}, "c2"},
		"projects":            {AuditFilter{Projects: []string{"vision", "nope"}}, "c1"},
		"both":                {AuditFilter{Projects: []string{"vision", "speech"}}, "c2,c1"},
		"empty project list":  {AuditFilter{Projects: []string{}}, ""},
		"project and list":    {AuditFilter{Project: "speech", Projects: []string{"vision"}}, ""},
		"site-wide unchanged": {AuditFilter{Actor: "root"}, "user/dave"},
	} {
		got, err := db.Audit(ctx, tc.f)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range got {
			ids = append(ids, e.Resource)
		}
		if strings.Join(ids, ",") != tc.want {
			t.Errorf("%s: %q, want %q", name, strings.Join(ids, ","), tc.want)
		}
	}
}
