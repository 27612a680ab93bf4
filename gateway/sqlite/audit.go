package sqlite

import (
	"context"
	"strings"

	"batchgate/gateway"
)

// AuditEntry is one line of the audit trail (gateway.AuditEntry). The trail is append-only: the
// database refuses updates and deletions.
type AuditEntry = gateway.AuditEntry

// AuditFilter selects audit entries (gateway.AuditFilter).
type AuditFilter = gateway.AuditFilter

type auditRow struct {
	ID       int64    `db:"id"`
	At       nanoTime `db:"at"`
	Actor    string   `db:"actor"`
	Action   string   `db:"action"`
	Resource string   `db:"resource"`
	Project  string   `db:"project"`
	Detail   string   `db:"detail"`
	Remote   string   `db:"remote"`
	Result   string   `db:"result"`
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
	res, err := s.exec(ctx, `INSERT INTO audit (at, actor, action, resource, project, detail, remote, result)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, nt(e.At), e.Actor, e.Action, e.Resource, e.Project, e.Detail, e.Remote, e.Result)
	if err != nil {
		return 0, dbErrorf("append audit: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, dbErrorf("append audit: %w", err)
	}
	return id, nil
}

// Audit returns the entries matching f, newest first: at most f.Limit (default 100, at most 1000).
func (s *DB) Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = gateway.DefaultAuditLimit
	}
	limit = min(limit, gateway.MaxAuditLimit+1) // +1: a caller may ask one more to see if a next page exists
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
	if f.Project != "" {
		add("project = ?", f.Project)
	}
	if f.Projects != nil {
		if len(f.Projects) == 0 {
			return []AuditEntry{}, nil
		}
		where = append(where, "project IN (?"+strings.Repeat(", ?", len(f.Projects)-1)+")")
		for _, p := range f.Projects {
			args = append(args, p)
		}
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
	err := s.db.SelectContext(ctx, &rows, `SELECT id, at, actor, action, resource, project, detail, remote, result
		FROM audit WHERE `+strings.Join(where, " AND ")+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, dbErrorf("read audit: %w", err)
	}
	out := make([]AuditEntry, len(rows))
	for i, r := range rows {
		out[i] = AuditEntry{ID: r.ID, At: r.At.time(), Actor: r.Actor, Action: r.Action, Resource: r.Resource, Project: r.Project,
			Detail: r.Detail, Remote: r.Remote, Result: r.Result}
	}
	return out, nil
}
