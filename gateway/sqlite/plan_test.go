package sqlite

import (
	"context"
	"strings"
	"testing"

	"batchgate/gateway"
)

// queryPlan returns SQLite's plan for query, one step a line.
func queryPlan(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	var steps []struct {
		ID, Parent, NotUsed int
		Detail              string
	}
	if err := db.db.SelectContext(context.Background(), &steps, "EXPLAIN QUERY PLAN "+query, args...); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range steps {
		b.WriteString(s.Detail + "\n")
	}
	return b.String()
}

// TestListingsUseIndexes keeps the hot queries off full-table scans: each read of containers or
// tasks must go through an index (a full scan reads "SCAN containers" with no "USING").
func TestListingsUseIndexes(t *testing.T) {
	db := openTest(t)
	cursor := encodeCursor(t0, "x")
	filters := map[string]gateway.ContainerFilter{
		"site admin": {Visible: gateway.Principal{SiteAdmin: true}, Cursor: cursor},
		"mixed roles": {Visible: gateway.Principal{User: "alice", Projects: map[string]gateway.Role{
			"vision": gateway.RoleAdmin, "speech": gateway.RoleMember}}, Cursor: cursor, State: gateway.Ready},
	}
	plans := map[string]string{}
	for name, f := range filters {
		q, args, err := containersQuery(f, 50)
		if err != nil {
			t.Fatal(err)
		}
		plans[name] = queryPlan(t, db, q, args...)
	}
	plans["unsettled"] = queryPlan(t, db, unsettledQuery)
	plans["tasks"] = queryPlan(t, db, tasksQuery, "c")
	for name, plan := range plans {
		for _, line := range strings.Split(strings.TrimSpace(plan), "\n") {
			if (strings.Contains(line, "SCAN containers") || strings.Contains(line, "SCAN tasks")) &&
				!strings.Contains(line, "USING") {
				t.Errorf("%s: full scan:\n%s", name, plan)
			}
		}
		if !strings.Contains(plan, "INDEX") {
			t.Errorf("%s: no index used:\n%s", name, plan)
		}
	}
}
