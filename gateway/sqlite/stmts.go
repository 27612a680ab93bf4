package sqlite

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// maxCachedStatements bounds the prepared-statement cache. The queries cached are built from a
// small set of shapes (a listing's per-principal scopes and filters), so the bound is only a guard.
const maxCachedStatements = 256

// statements caches prepared read statements by query text: SQLite spends much of a small
// query's time compiling it, and the hot paths (authentication, listing) run the same few queries
// thousands of times a second.
type statements struct {
	mu    sync.Mutex
	bySQL map[string]*sqlx.Stmt
}

// prepared returns the cached statement for query on the readers' pool, preparing it on first use.
func (s *DB) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	if st, ok := s.stmts.bySQL[query]; ok {
		return st, nil
	}
	st, err := s.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if s.stmts.bySQL == nil {
		s.stmts.bySQL = map[string]*sqlx.Stmt{}
	}
	if len(s.stmts.bySQL) < maxCachedStatements {
		s.stmts.bySQL[query] = st
	}
	return st, nil
}

// closeStatements closes every cached statement (at Close).
func (s *DB) closeStatements() {
	s.stmts.mu.Lock()
	defer s.stmts.mu.Unlock()
	for q, st := range s.stmts.bySQL {
		st.Close()
		delete(s.stmts.bySQL, q)
	}
}
