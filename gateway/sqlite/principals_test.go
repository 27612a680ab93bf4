package sqlite

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"batchgate/gateway"
)

// The gateway reuses authenticated principals, and the admin CLI changes identities through its
// own connection to the same file: every such change must count from the gateway's next request.
func TestPrincipalCacheSeesChangesFromAnotherProcess(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "batchgate.db")
	gw, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	seedIdentity(t, gw)
	cli, err := Open(ctx, path) // what `batchgate admin` opens
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := gw.CreateToken(ctx, "alice", "laptop", "h-alice", nil); err != nil {
		t.Fatal(err)
	}
	bobToken, err := gw.CreateToken(ctx, "bob", "ci", "h-bob", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	roles := func(hash string) map[string]gateway.Role {
		t.Helper()
		p, err := gw.PrincipalByTokenHash(ctx, hash, now)
		if err != nil {
			t.Fatalf("%s: %v", hash, err)
		}
		return p.Projects
	}
	refused := func(hash string) {
		t.Helper()
		_, err := gw.PrincipalByTokenHash(ctx, hash, now)
		wantCode(t, err, gateway.CodeUnauthorized)
	}

	want := map[string]gateway.Role{"vision": gateway.RoleMember, "speech": gateway.RoleAdmin}
	for range 3 { // read, then from the cache
		if got := roles("h-alice"); !reflect.DeepEqual(got, want) {
			t.Fatalf("alice's roles = %v, want %v", got, want)
		}
	}
	if err := cli.RemoveMember(ctx, "speech", "alice"); err != nil {
		t.Fatal(err)
	}
	if got := roles("h-alice"); !reflect.DeepEqual(got, map[string]gateway.Role{"vision": gateway.RoleMember}) {
		t.Fatalf("after removal from speech, alice's roles = %v", got)
	}
	if err := cli.AddMember(ctx, "speech", "alice", gateway.RoleMember); err != nil {
		t.Fatal(err)
	}
	if got := roles("h-alice"); got["speech"] != gateway.RoleMember {
		t.Fatalf("after joining speech, alice's roles = %v", got)
	}

	roles("h-bob")
	if err := cli.RevokeToken(ctx, bobToken); err != nil {
		t.Fatal(err)
	}
	refused("h-bob")

	roles("h-alice")
	if err := cli.SetUserDisabled(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}
	refused("h-alice")
	if err := cli.SetUserDisabled(ctx, "alice", false); err != nil {
		t.Fatal(err)
	}
	roles("h-alice")

	// Expiry is checked at every request, cached or not.
	soon := now.Add(time.Hour)
	if _, err := cli.CreateToken(ctx, "alice", "short", "h-short", &soon); err != nil {
		t.Fatal(err)
	}
	roles("h-short")
	if _, err := gw.PrincipalByTokenHash(ctx, "h-short", soon); err == nil {
		t.Fatal("an expired token was accepted from the cache")
	}
}

// Recording a token's last use does not move the identity version (it would empty the cache
// once a minute per token for nothing).
func TestLastUseKeepsTheIdentityVersion(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	seedIdentity(t, db)
	if _, err := db.CreateToken(ctx, "alice", "laptop", "h", nil); err != nil {
		t.Fatal(err)
	}
	version := func() int64 {
		var v int64
		if err := db.db.GetContext(ctx, &v, "SELECT version FROM identity_version"); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := version()
	for i := range 3 {
		if _, err := db.PrincipalByTokenHash(ctx, "h", t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if after := version(); after != before {
		t.Fatalf("identity version moved from %d to %d on last-use writes", before, after)
	}
}
