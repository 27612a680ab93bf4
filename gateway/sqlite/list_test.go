package sqlite

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"testing"

	"batchgate/gateway"
)

// seedVisibility makes containers in two projects by three users; names say who owns what.
func seedVisibility(t *testing.T, db *DB) {
	n := 0
	for _, c := range []struct{ project, owner string }{
		{"vision", "alice"}, {"vision", "alice"}, {"vision", "bob"}, {"speech", "carol"}, {"speech", "alice"},
	} {
		n++
		mustCreate(t, db, newContainer(c.project, c.owner, fmt.Sprintf("%s-%s-%d", c.project, c.owner, n), n))
	}
}

func names(page []*gateway.Container) []string {
	out := []string{}
	for _, c := range page {
		out = append(out, c.Name)
	}
	return out
}

func TestContainersVisibility(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	seedVisibility(t, db)
	cases := []struct {
		who  string
		p    gateway.Principal
		want []string // newest first
	}{
		{"site admin", gateway.Principal{User: "root", SiteAdmin: true},
			[]string{"speech-alice-5", "speech-carol-4", "vision-bob-3", "vision-alice-2", "vision-alice-1"}},
		{"project admin", gateway.Principal{User: "bob", Projects: map[string]gateway.Role{"vision": gateway.RoleAdmin}},
			[]string{"vision-bob-3", "vision-alice-2", "vision-alice-1"}},
		{"member", gateway.Principal{User: "alice", Projects: map[string]gateway.Role{"vision": gateway.RoleMember}},
			[]string{"vision-alice-2", "vision-alice-1"}},
		{"member of two", gateway.Principal{User: "alice", Projects: map[string]gateway.Role{
			"vision": gateway.RoleMember, "speech": gateway.RoleMember}},
			[]string{"speech-alice-5", "vision-alice-2", "vision-alice-1"}},
		{"admin here, member there", gateway.Principal{User: "carol", Projects: map[string]gateway.Role{
			"vision": gateway.RoleMember, "speech": gateway.RoleAdmin}},
			[]string{"speech-alice-5", "speech-carol-4"}},
		{"other project", gateway.Principal{User: "dave", Projects: map[string]gateway.Role{"audio": gateway.RoleAdmin}},
			[]string{}},
		{"no projects", gateway.Principal{User: "dave"}, []string{}},
		{"unknown role", gateway.Principal{User: "alice", Projects: map[string]gateway.Role{"vision": "owner"}}, []string{}},
	}
	for _, tc := range cases {
		t.Run(tc.who, func(t *testing.T) {
			page, next, err := db.Containers(ctx, gateway.ContainerFilter{Visible: tc.p})
			if err != nil {
				t.Fatal(err)
			}
			if got := names(page); !reflect.DeepEqual(got, tc.want) || next != "" {
				t.Errorf("got %v (next %q), want %v", got, next, tc.want)
			}
			// The SQL agrees with the domain's own rule.
			for _, c := range page {
				if !tc.p.CanAccess(c.Project, c.Owner) {
					t.Errorf("%s sees %s, which CanAccess refuses", tc.who, c.Name)
				}
			}
		})
	}
}

func TestContainersFilters(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	seedVisibility(t, db)
	c := newContainer("vision", "bob", "busy", 9)
	mustCreate(t, db, c)
	startTestTask(t, db, c, "t1")
	admin := gateway.Principal{SiteAdmin: true}

	page, _, err := db.Containers(ctx, gateway.ContainerFilter{Visible: admin, State: gateway.Ready})
	if err != nil || !reflect.DeepEqual(names(page), []string{"busy"}) {
		t.Errorf("state filter: %v (%v)", names(page), err)
	}
	page, _, err = db.Containers(ctx, gateway.ContainerFilter{Visible: admin, Name: "alice"})
	if err != nil || len(page) != 3 {
		t.Errorf("name filter: %v (%v), want the 3 alice containers", names(page), err)
	}
	// Substring, not a pattern: '%' and '_' are literal.
	page, _, err = db.Containers(ctx, gateway.ContainerFilter{Visible: admin, Name: "%"})
	if err != nil || len(page) != 0 {
		t.Errorf("name %%: %v (%v), want none", names(page), err)
	}
	_, _, err = db.Containers(ctx, gateway.ContainerFilter{Visible: admin, Cursor: "!!not-base64"})
	wantCode(t, err, gateway.CodeInvalid)
	_, _, err = db.Containers(ctx, gateway.ContainerFilter{Visible: admin, Cursor: "bm9jb2xvbg"}) // "nocolon"
	wantCode(t, err, gateway.CodeInvalid)
}

func TestContainersPaginationNoDuplicatesNoGaps(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	const total = 237
	for i := range total {
		owner := []string{"alice", "bob"}[i%2]
		c := newContainer("vision", owner, fmt.Sprintf("c%03d", i), i/3) // three share each second
		c.ID = fmt.Sprintf("id%03d", (i*7)%total)                        // ids not in creation order
		mustCreate(t, db, c)
	}
	for _, tc := range []struct {
		who   string
		p     gateway.Principal
		count string // the containers that exist when the listing begins
	}{
		{"site admin", gateway.Principal{SiteAdmin: true}, "SELECT COUNT(*) FROM containers"},
		{"member", gateway.Principal{User: "alice", Projects: map[string]gateway.Role{"vision": gateway.RoleMember}},
			"SELECT COUNT(*) FROM containers WHERE owner = 'alice'"},
	} {
		t.Run(tc.who, func(t *testing.T) {
			var want int
			if err := db.db.GetContext(ctx, &want, tc.count); err != nil || want < 100 {
				t.Fatalf("count = %d (%v)", want, err)
			}
			seen := map[string]bool{}
			var all []*gateway.Container
			cursor, pages := "", 0
			for {
				page, next, err := db.Containers(ctx, gateway.ContainerFilter{Visible: tc.p, Cursor: cursor, Limit: 20})
				if err != nil {
					t.Fatal(err)
				}
				pages++
				if next != "" && len(page) != 20 {
					t.Fatalf("page %d has %d containers but is not the last", pages, len(page))
				}
				if pages == 2 {
					// A container made while paging (newest) must not shift later pages.
					mustCreate(t, db, newContainer("vision", "alice", fmt.Sprintf("late-%s", tc.who[:4]), 10000))
				}
				for _, c := range page {
					if seen[c.ID] {
						t.Fatalf("%s repeated", c.ID)
					}
					seen[c.ID] = true
				}
				all = append(all, page...)
				if next == "" {
					break
				}
				cursor = next
			}
			if len(all) != want {
				t.Errorf("listed %d, want %d", len(all), want)
			}
			if !sort.SliceIsSorted(all, func(i, j int) bool {
				a, b := all[i], all[j]
				return a.CreatedAt.After(b.CreatedAt) || (a.CreatedAt.Equal(b.CreatedAt) && a.ID > b.ID)
			}) {
				t.Error("not newest first")
			}
		})
	}
}

func TestContainersLimits(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	for i := range 520 {
		mustCreate(t, db, newContainer("vision", "alice", fmt.Sprintf("c%d", i), i))
	}
	admin := gateway.Principal{SiteAdmin: true}
	for _, tc := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {7, 7}, {10000, 500}} {
		page, next, err := db.Containers(ctx, gateway.ContainerFilter{Visible: admin, Limit: tc.limit})
		if err != nil || len(page) != tc.want || next == "" {
			t.Errorf("limit %d: %d containers, next %q (%v); want %d and a cursor", tc.limit, len(page), next, err, tc.want)
		}
	}
}
