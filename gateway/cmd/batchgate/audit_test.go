package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"batchgate/gateway"
	"batchgate/gateway/sqlite"
)

func TestAdminChangesAreAudited(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "bg.db")
	t.Setenv("SUDO_USER", "opal")
	tokenFile := filepath.Join(t.TempDir(), "tok")
	for _, args := range [][]string{
		{"project", "add", "vision"},
		{"project", "add", "vision", "--exist-ok"},
		{"user", "add", "alice"},
		{"member", "add", "vision", "alice", "--role", "admin"},
		{"token", "create", "alice", "--name", "laptop", "--out", tokenFile},
		{"project", "list"},
		{"user", "disable", "nobody"},
	} {
		var out, errOut bytes.Buffer
		_ = admin(ctx, append(args, "--database="+dbPath), &out, &errOut)
	}
	token, err := os.ReadFile(tokenFile)
	if err != nil || !strings.HasPrefix(string(token), "bg_") {
		t.Fatalf("token file: %q %v", token, err)
	}
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := db.Audit(ctx, gateway.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Actor != "opal" || e.Remote != "local" {
			t.Errorf("entry %+v: want actor opal from local", e)
		}
		if strings.Contains(e.Detail+e.Resource, strings.TrimSpace(string(token))) {
			t.Errorf("entry %+v carries the token", e)
		}
		got = append(got, e.Action+" "+e.Resource+" "+e.Project+" "+e.Result)
	}
	// Newest first; the listing is not a change.
	want := []string{
		"admin.user.disable user/nobody  not_found",
		"admin.token.create token/" + strings.TrimPrefix(entries[1].Resource, "token/") + "  ok",
		"admin.member.add member/vision/alice vision ok",
		"admin.user.add user/alice  ok",
		"admin.project.add project/vision vision conflict",
		"admin.project.add project/vision vision ok",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || entries[1].Resource == "token/" ||
		entries[1].Detail != "for user alice, named laptop" {
		t.Fatalf("audit:\n%s\nwant:\n%s\n(token entry %+v)", strings.Join(got, "\n"), strings.Join(want, "\n"), entries[1])
	}
}
