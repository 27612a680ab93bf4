package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"

	"batchgate/gateway"
)

// Idempotency operations: a key is scoped to its owner and to one kind of request.
const (
	opCreate = "create"
	opStart  = "start"
)

// claimKey records that owner used key for op, making resourceID; with the key already recorded
// it returns a *gateway.ReplayError naming the first resource. It must run inside the
// transaction that creates the resource, so that either both rows exist or neither does.
func claimKey(ctx context.Context, tx *sqlx.Tx, owner, op, key, resourceID string, now time.Time) error {
	if key == "" {
		return nil
	}
	var first string
	err := tx.GetContext(ctx, &first, "SELECT resource_id FROM idempotency WHERE owner = ? AND op = ? AND key = ?",
		owner, op, key)
	switch {
	case err == nil:
		return &gateway.ReplayError{ID: first}
	case !errors.Is(err, sql.ErrNoRows):
		return dbErrorf("read idempotency key: %w", err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO idempotency (owner, op, key, resource_id, created_at) VALUES (?, ?, ?, ?, ?)",
		owner, op, key, resourceID, nt(now))
	if isUnique(err, "idempotency.owner, idempotency.op, idempotency.key") {
		// Only reachable if another writer committed between our read and insert, which
		// BEGIN IMMEDIATE rules out; report it rather than guess the other's resource.
		return gateway.Errorf(gateway.CodeConflict, "the idempotency key is being used by a concurrent request")
	}
	if err != nil {
		return dbErrorf("record idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys forgets keys recorded before before, so the table does not grow without
// bound; a request replayed after that makes a new resource. It returns how many were removed.
func (s *DB) PurgeIdempotencyKeys(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, "DELETE FROM idempotency WHERE created_at < ?", nt(before))
	if err != nil {
		return 0, dbErrorf("purge idempotency keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, dbErrorf("purge idempotency keys: %w", err)
	}
	return n, nil
}
