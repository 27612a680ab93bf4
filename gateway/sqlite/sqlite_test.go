package sqlite

import (
	"context"
	"path/filepath"
	"testing"
)

func TestOpenMigratesOnceAndSetsPragmas(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "batchgate.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	var mode string
	var fk int
	if err := db.db.GetContext(ctx, &mode, "PRAGMA journal_mode"); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
	if err := db.db.GetContext(ctx, &fk, "PRAGMA foreign_keys"); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d (%v), want 1", fk, err)
	}
	var applied int
	if err := db.db.GetContext(ctx, &applied, "SELECT COUNT(*) FROM schema_migrations"); err != nil || applied == 0 {
		t.Fatalf("applied migrations = %d (%v)", applied, err)
	}
	db.Close()

	// Re-opening applies nothing twice.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var again int
	if err := db.db.GetContext(ctx, &again, "SELECT COUNT(*) FROM schema_migrations"); err != nil || again != applied {
		t.Fatalf("after reopen: %d migrations recorded, want %d (%v)", again, applied, err)
	}
}
