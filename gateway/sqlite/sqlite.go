// Package sqlite is batchgate's store: SQLite through sqlx and go-sqlite3, with embedded migrations
// applied at open, each in its own transaction. It is the only importer of sqlx and go-sqlite3.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DB is an open batchgate database. Reads use a pool of connections (WAL lets them run beside
// a writer); every write goes through one writer connection, so writers queue in Go, in order,
// instead of contending for SQLite's lock and failing with "database is locked" under load.
type DB struct {
	db *sqlx.DB // readers
	w  *sqlx.DB // the one writer
	// writeTurns hands the writer out in arrival order (database/sql gives a released connection to
	// a random waiter, which under load kept some writes, such as a reconciler pass, waiting for
	// many seconds).
	writeTurns chan struct{}
	// principals keeps authenticated tokens while the identity tables do not change.
	principals principalCache
	// now is the clock for times the store fills in itself (created_at of projects, tokens ...);
	// tests replace it.
	now func() time.Time
}

// statementCacheSize is how many compiled statements each connection keeps (least recently used
// go first).
const statementCacheSize = 128

// busyTimeout is how long a writer waits for another's lock before SQLITE_BUSY: long enough to ride
// out a checkpoint or a burst of writes, short enough that a stuck lock surfaces as an error.
const busyTimeout = 5 * time.Second

// Open opens (creating when missing) the database file at path, applies pending migrations and
// returns the store. WAL, the busy timeout and foreign keys are set in the DSN so that every pooled
// connection has them.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, dbErrorf("create database directory: %w", err)
	}
	q := url.Values{}
	q.Set("_foreign_keys", "on")
	q.Set("_busy_timeout", strconv.Itoa(int(busyTimeout/time.Millisecond)))
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", "immediate") // the writer takes the lock at BEGIN: another process can only make it wait
	// Each connection keeps its compiled statements: SQLite spends much of a small query's time
	// compiling it, and the hot paths (authentication, listing, a start's writes) run the same
	// few statements thousands of times a second. A listing's text varies only with the caller's
	// scopes and filters, so the cache holds the working set.
	q.Set("_stmt_cache_size", strconv.Itoa(statementCacheSize))
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sqlx.Open("sqlite3", dsn)
	if err != nil {
		return nil, dbErrorf("open database %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil { // creates the file and switches it to WAL first
		w.Close()
		return nil, dbErrorf("open database %s: %w", path, err)
	}
	db, err := sqlx.Open("sqlite3", dsn)
	if err != nil {
		w.Close()
		return nil, dbErrorf("open database %s: %w", path, err)
	}
	// Readers are kept open, with their compiled statements: database/sql's default keeps only 2
	// idle, so under concurrent requests connections were opened (schema read, statements
	// recompiled) and closed again for most queries. Twice the CPUs covers readers waiting on the
	// disk; more would only queue in SQLite. No store method holds one reader while asking for
	// another, so a full pool makes a query wait, never deadlock.
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(readers)
	db.SetMaxIdleConns(readers)
	db.SetConnMaxIdleTime(0)
	s := &DB{db: db, w: w, writeTurns: make(chan struct{}, 1), now: time.Now}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, dbErrorf("migrate database %s: %w", path, err)
	}
	return s, nil
}

// Close closes the database.
func (s *DB) Close() error {
	return errors.Join(s.db.Close(), s.w.Close())
}

// Ping reports whether the database answers a query.
func (s *DB) Ping(ctx context.Context) error {
	var one int
	if err := s.db.GetContext(ctx, &one, "SELECT 1"); err != nil {
		return dbErrorf("database: %w", err)
	}
	return nil
}

// migrate applies every embedded migration newer than the recorded version, in order, each in
// its own transaction together with the version bump.
func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return dbErrorf("create schema_migrations: %w", err)
	}
	var current int
	if err := s.db.GetContext(ctx, &current, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"); err != nil {
		return dbErrorf("read schema version: %w", err)
	}
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := filepath.Base(name)
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return dbErrorf("migration %s: name must start with a number and '_'", base)
		}
		if version <= current {
			continue
		}
		body, err := migrationFiles.ReadFile(name)
		if err != nil {
			return err
		}
		if err := s.applyMigration(ctx, version, base, string(body)); err != nil {
			return err
		}
	}
	return nil
}

// writeTurn waits for the writer's turn, in arrival order; done ends it.
func (s *DB) writeTurn(ctx context.Context) (done func(), err error) {
	select {
	case s.writeTurns <- struct{}{}:
		return func() { <-s.writeTurns }, nil
	case <-ctx.Done():
		return nil, dbErrorf("wait to write: %w", ctx.Err())
	}
}

// exec runs one write statement on the writer, in its turn.
func (s *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	done, err := s.writeTurn(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	return s.w.ExecContext(ctx, query, args...)
}

// inTx runs fn in one transaction (BEGIN IMMEDIATE, so writers queue on the busy timeout instead
// of failing at their first write) and commits when fn returns nil; any error rolls back.
func (s *DB) inTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	done, err := s.writeTurn(ctx)
	if err != nil {
		return err
	}
	defer done()
	tx, err := s.w.BeginTxx(ctx, nil)
	if err != nil {
		return dbErrorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return dbErrorf("commit: %w", err)
	}
	return nil
}

// newID returns a random 128-bit identifier in hex, for rows the store names itself.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

func (s *DB) applyMigration(ctx context.Context, version int, name, body string) error {
	tx, err := s.w.BeginTxx(ctx, nil)
	if err != nil {
		return dbErrorf("migration %s: %w", name, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, body); err != nil {
		return dbErrorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
		version, name, time.Now().UTC().Format(time.RFC3339)); err != nil {
		return dbErrorf("migration %s: record version: %w", name, err)
	}
	if err := tx.Commit(); err != nil {
		return dbErrorf("migration %s: commit: %w", name, err)
	}
	return nil
}
