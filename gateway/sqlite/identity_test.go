package sqlite

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"batchgate/gateway"
)

// seedIdentity makes projects vision and speech, users alice (member of vision, admin of speech),
// bob (member of vision) and root (site admin).
func seedIdentity(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []string{"vision", "speech"} {
		if err := db.AddProject(ctx, gateway.Project{Name: p, Description: p + " team"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []gateway.User{{Name: "alice"}, {Name: "bob"}, {Name: "root", SiteAdmin: true}} {
		if err := db.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []Member{{"vision", "alice", gateway.RoleMember}, {"speech", "alice", gateway.RoleAdmin},
		{"vision", "bob", gateway.RoleMember}} {
		if err := db.AddMember(ctx, m.Project, m.User, m.Role); err != nil {
			t.Fatal(err)
		}
	}
}

func TestProjectsUsersMembers(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	db.now = func() time.Time { return t0 }
	seedIdentity(t, db)

	projects, err := db.Projects(ctx)
	if err != nil || len(projects) != 2 || projects[0].Name != "speech" || projects[1].Description != "vision team" ||
		!projects[0].CreatedAt.Equal(t0) {
		t.Errorf("Projects = %+v (%v)", projects, err)
	}
	wantCode(t, db.AddProject(ctx, gateway.Project{Name: "vision"}), gateway.CodeConflict)
	wantCode(t, db.AddProject(ctx, gateway.Project{}), gateway.CodeInvalid)

	users, err := db.Users(ctx)
	if err != nil || len(users) != 3 || users[2].Name != "root" || !users[2].SiteAdmin || users[0].SiteAdmin {
		t.Errorf("Users = %+v (%v)", users, err)
	}
	wantCode(t, db.AddUser(ctx, gateway.User{Name: "bob"}), gateway.CodeConflict)
	if err := db.SetUserDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}
	if u, err := db.User(ctx, "bob"); err != nil || !u.Disabled {
		t.Errorf("bob = %+v (%v), want disabled", u, err)
	}
	wantCode(t, db.SetUserDisabled(ctx, "nobody", true), gateway.CodeNotFound)
	_, err = db.User(ctx, "nobody")
	wantCode(t, err, gateway.CodeNotFound)

	members, err := db.Members(ctx, "vision")
	want := []Member{{"vision", "alice", gateway.RoleMember}, {"vision", "bob", gateway.RoleMember}}
	if err != nil || !reflect.DeepEqual(members, want) {
		t.Errorf("Members = %+v (%v), want %+v", members, err, want)
	}
	// Adding again changes the role.
	if err := db.AddMember(ctx, "vision", "bob", gateway.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	members, _ = db.Members(ctx, "vision")
	if len(members) != 2 || members[1].Role != gateway.RoleAdmin {
		t.Errorf("after promotion: %+v", members)
	}
	wantCode(t, db.AddMember(ctx, "vision", "bob", "owner"), gateway.CodeInvalid)
	wantCode(t, db.AddMember(ctx, "audio", "bob", gateway.RoleMember), gateway.CodeNotFound)
	wantCode(t, db.AddMember(ctx, "vision", "nobody", gateway.RoleMember), gateway.CodeNotFound)

	if err := db.RemoveMember(ctx, "vision", "bob"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, db.RemoveMember(ctx, "vision", "bob"), gateway.CodeNotFound)
	if members, _ := db.Members(ctx, "vision"); len(members) != 1 {
		t.Errorf("after removal: %+v", members)
	}
	if members, err := db.Members(ctx, "speech"); err != nil || len(members) != 1 || members[0].Role != gateway.RoleAdmin {
		t.Errorf("speech members = %+v (%v)", members, err)
	}
	_, err = db.Members(ctx, "audio")
	wantCode(t, err, gateway.CodeNotFound)
}

func TestTokenStates(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	db.now = func() time.Time { return t0 }
	seedIdentity(t, db)
	expires := t0.Add(24 * time.Hour)
	mk := func(user, name, hash string, exp *time.Time) string {
		t.Helper()
		id, err := db.CreateToken(ctx, user, name, hash, exp)
		if err != nil || id == "" {
			t.Fatalf("create token %s: %q, %v", name, id, err)
		}
		return id
	}
	mk("alice", "laptop", "h-alice", &expires)
	revoked := mk("alice", "old", "h-revoked", nil)
	mk("bob", "ci", "h-bob", nil)
	mk("root", "admin", "h-root", nil)
	if err := db.RevokeToken(ctx, revoked); err != nil {
		t.Fatal(err)
	}
	if err := db.SetUserDisabled(ctx, "bob", true); err != nil {
		t.Fatal(err)
	}

	p, err := db.PrincipalByTokenHash(ctx, "h-alice", t0.Add(time.Hour))
	want := gateway.Principal{User: "alice", Projects: map[string]gateway.Role{"vision": gateway.RoleMember, "speech": gateway.RoleAdmin}}
	if err != nil || !reflect.DeepEqual(p, want) {
		t.Errorf("alice = %+v (%v), want %+v", p, err, want)
	}
	if p, err := db.PrincipalByTokenHash(ctx, "h-root", t0); err != nil || !p.SiteAdmin || p.Projects == nil {
		t.Errorf("root = %+v (%v), want a site admin with a non-nil role map", p, err)
	}
	for _, tc := range []struct {
		hash string
		at   time.Time
		says string
	}{
		{"h-unknown", t0, "unknown"},
		{"h-revoked", t0, "revoked"},
		{"h-alice", expires, "expired"},
		{"h-bob", t0, "disabled"},
	} {
		_, err := db.PrincipalByTokenHash(ctx, tc.hash, tc.at)
		wantCode(t, err, gateway.CodeUnauthorized)
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %q does not say %q", tc.hash, err, tc.says)
		}
		for _, secret := range []string{"alice", "bob", "old", "laptop"} { // users and token names
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: %q names %q", tc.hash, err, secret)
			}
		}
	}

	tokens, err := db.Tokens(ctx, "alice")
	if err != nil || len(tokens) != 2 {
		t.Fatalf("Tokens(alice) = %+v (%v)", tokens, err)
	}
	byName := map[string]Token{}
	for _, tk := range tokens {
		byName[tk.Name] = tk
	}
	if lt := byName["laptop"]; lt.ExpiresAt == nil || !lt.ExpiresAt.Equal(expires) || lt.LastUsedAt == nil ||
		!lt.LastUsedAt.Equal(t0.Add(time.Hour)) || lt.RevokedAt != nil {
		t.Errorf("laptop = %+v, want expiry, last use at t0+1h, not revoked", lt)
	}
	if old := byName["old"]; old.RevokedAt == nil || !old.RevokedAt.Equal(t0) || old.LastUsedAt != nil {
		t.Errorf("old = %+v, want revoked at t0, never used", old)
	}

	wantCode(t, db.RevokeToken(ctx, "nope"), gateway.CodeNotFound)
	_, err = db.CreateToken(ctx, "nobody", "x", "h-x", nil)
	wantCode(t, err, gateway.CodeNotFound)
	_, err = db.CreateToken(ctx, "alice", "dup", "h-alice", nil)
	wantCode(t, err, gateway.CodeConflict)
	_, err = db.Tokens(ctx, "nobody")
	wantCode(t, err, gateway.CodeNotFound)
}

func TestTokenLastUseIsThrottled(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	seedIdentity(t, db)
	if _, err := db.CreateToken(ctx, "alice", "laptop", "h", nil); err != nil {
		t.Fatal(err)
	}
	lastUse := func() time.Time {
		tokens, err := db.Tokens(ctx, "alice")
		if err != nil || len(tokens) != 1 || tokens[0].LastUsedAt == nil {
			t.Fatalf("tokens = %+v (%v)", tokens, err)
		}
		return *tokens[0].LastUsedAt
	}
	for _, tc := range []struct {
		at, want time.Time
	}{
		{t0, t0},
		{t0.Add(30 * time.Second), t0}, // within a minute: not written
		{t0.Add(time.Minute), t0.Add(time.Minute)},
	} {
		if _, err := db.PrincipalByTokenHash(ctx, "h", tc.at); err != nil {
			t.Fatal(err)
		}
		if got := lastUse(); !got.Equal(tc.want) {
			t.Errorf("used at %v: last use %v, want %v", tc.at, got, tc.want)
		}
	}
}
