package sqlite

import (
	"context"
	"fmt"
	"testing"

	"github.com/jmoiron/sqlx"

	"batchgate/gateway"
)

// seed10k writes 10,000 containers in one transaction: 4 projects, 25 owners each, a tenth of
// them Running.
func seed10k(b *testing.B, db *DB) {
	b.Helper()
	insert := "INSERT INTO containers (" + containerColumns + ") VALUES (" + namedParams(containerColumns) + ")"
	err := db.inTx(context.Background(), func(tx *sqlx.Tx) error {
		for i := range 10000 {
			project := fmt.Sprintf("p%d", i%4)
			c := newContainer(project, fmt.Sprintf("u%d", (i/4)%25), fmt.Sprintf("c%05d", i), i)
			c.UpdatedAt = c.CreatedAt
			if i%10 == 0 {
				c.State = gateway.Running
			}
			row, err := toContainerRow(c)
			if err != nil {
				return err
			}
			if _, err := tx.NamedExec(insert, row); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkContainersPage10k reads one 50-container page out of 10,000, for each kind of caller,
// on the first page and deep in the listing.
func BenchmarkContainersPage10k(b *testing.B) {
	ctx := context.Background()
	db := openTest(b)
	seed10k(b, db)
	member := gateway.Principal{User: "u3", Projects: map[string]gateway.Role{"p1": gateway.RoleMember}}
	cases := []struct {
		name string
		f    gateway.ContainerFilter
	}{
		{"site-admin", gateway.ContainerFilter{Visible: gateway.Principal{SiteAdmin: true}}},
		{"project-admin", gateway.ContainerFilter{Visible: gateway.Principal{User: "u1",
			Projects: map[string]gateway.Role{"p2": gateway.RoleAdmin}}}},
		{"member", gateway.ContainerFilter{Visible: member}},
		{"admin-and-member", gateway.ContainerFilter{Visible: gateway.Principal{User: "u3", Projects: map[string]gateway.Role{
			"p0": gateway.RoleAdmin, "p1": gateway.RoleMember, "p3": gateway.RoleMember}}}},
		{"site-admin-running", gateway.ContainerFilter{Visible: gateway.Principal{SiteAdmin: true}, State: gateway.Running}},
		// A substring matches in no index: a rare one (1 in 100) reads most of the index.
		{"site-admin-name-rare", gateway.ContainerFilter{Visible: gateway.Principal{SiteAdmin: true}, Name: "99", Limit: 20}},
	}
	for _, tc := range cases {
		// The cursor of a page in the middle of this caller's listing.
		var cursors []string
		for f := tc.f; ; {
			page, next, err := db.Containers(ctx, f)
			if err != nil || len(page) == 0 {
				b.Fatalf("%s: %d containers, %v", tc.name, len(page), err)
			}
			if next == "" {
				break
			}
			cursors = append(cursors, next)
			f.Cursor = next
		}
		if len(cursors) == 0 {
			b.Fatalf("%s: a single page", tc.name)
		}
		deep := tc.f
		deep.Cursor = cursors[len(cursors)/2]
		for _, v := range []struct {
			name string
			f    gateway.ContainerFilter
		}{{"first", tc.f}, {"deep", deep}} {
			b.Run(tc.name+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					page, _, err := db.Containers(ctx, v.f)
					if err != nil || len(page) == 0 {
						b.Fatalf("%d containers, %v", len(page), err)
					}
				}
			})
		}
	}
}
