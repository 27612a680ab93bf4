package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"batchgate/gateway"
)

// AuditEntry is one line of the audit trail: who did what to which resource, from where, and how
// it ended. The trail is append-only (the database refuses updates and deletions).
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Resource string    `json:"resource,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	Remote   string    `json:"remote,omitempty"`
	Result   string    `json:"result,omitempty"`
}

type auditRow struct {
	ID       int64    `db:"id"`
	At       nanoTime `db:"at"`
	Actor    string   `db:"actor"`
	Action   string   `db:"action"`
	Resource string   `db:"resource"`
	Detail   string   `db:"detail"`
	Remote   string   `db:"remote"`
	Result   string   `db:"result"`
}

// AuditFilter selects audit entries; empty fields match everything. BeforeID pages backwards:
// only entries with a smaller id (pass the last id of the previous page).
type AuditFilter struct {
	Actor    string
	Action   string
	Resource string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	BeforeID int64
	Limit    int // default 100, at most 1000
}

// AppendAudit appends e to the trail (a zero At becomes now) and returns its id. Returns
// CodeInvalid when the actor or the action is empty.
func (s *DB) AppendAudit(ctx context.Context, e AuditEntry) (int64, error) {
	var p gateway.Problems
	if e.Actor == "" {
		p.Add("actor", "is required")
	}
	if e.Action == "" {
		p.Add("action", "is required")
	}
	if err := p.Err("invalid audit entry"); err != nil {
		return 0, err
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	res, err := s.db.ExecContext(ctx, `INSERT INTO audit (at, actor, action, resource, detail, remote, result)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, nt(e.At), e.Actor, e.Action, e.Resource, e.Detail, e.Remote, e.Result)
	if err != nil {
		return 0, fmt.Errorf("append audit: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("append audit: %w", err)
	}
	return id, nil
}

// Audit returns the entries matching f, newest first.
func (s *DB) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	where := []string{"1"}
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("action = ?", f.Action)
	}
	if f.Resource != "" {
		add("resource = ?", f.Resource)
	}
	if !f.Since.IsZero() {
		add("at >= ?", nt(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", nt(f.Until))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	var rows []auditRow
	err := s.db.SelectContext(ctx, &rows, `SELECT id, at, actor, action, resource, detail, remote, result
		FROM audit WHERE `+strings.Join(where, " AND ")+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = AuditEntry{ID: r.ID, At: r.At.time(), Actor: r.Actor, Action: r.Action, Resource: r.Resource,
			Detail: r.Detail, Remote: r.Remote, Result: r.Result}
	}
	return out, nil
}
