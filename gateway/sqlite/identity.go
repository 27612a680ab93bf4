package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"batchgate/gateway"
)

// Member is one user's role in one project.
type Member struct {
	Project string       `json:"project" db:"project"`
	User    string       `json:"user" db:"user"`
	Role    gateway.Role `json:"role" db:"role"`
}

type projectRow struct {
	Name        string   `db:"name"`
	Description string   `db:"description"`
	CreatedAt   nanoTime `db:"created_at"`
}

type userRow struct {
	Name      string   `db:"name"`
	SiteAdmin bool     `db:"site_admin"`
	Disabled  bool     `db:"disabled"`
	CreatedAt nanoTime `db:"created_at"`
}

func conflictOn(field, format string, args ...any) error {
	return &gateway.Error{Code: gateway.CodeConflict, Message: fmt.Sprintf(format, args...),
		Fields: []gateway.FieldError{{Field: field, Detail: fmt.Sprintf(format, args...)}}}
}

func required(field, value string) error {
	if value != "" {
		return nil
	}
	var p gateway.Problems
	p.Add(field, "is required")
	return p.Err("invalid request")
}

// AddProject records a project (a Slurm account); a zero CreatedAt becomes now. Errors:
// CodeInvalid for an empty name, CodeConflict (field "name") when it exists.
func (s *DB) AddProject(ctx context.Context, p gateway.Project) error {
	if err := required("name", p.Name); err != nil {
		return err
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now()
	}
	_, err := s.exec(ctx, "INSERT INTO projects (name, description, created_at) VALUES (?, ?, ?)",
		p.Name, p.Description, nt(p.CreatedAt))
	if isUnique(err, "projects.name") {
		return conflictOn("name", "project %q already exists", p.Name)
	}
	if err != nil {
		return dbErrorf("add project %s: %w", p.Name, err)
	}
	return nil
}

// Projects lists every project by name.
func (s *DB) Projects(ctx context.Context) ([]gateway.Project, error) {
	var rows []projectRow
	if err := s.db.SelectContext(ctx, &rows, "SELECT name, description, created_at FROM projects ORDER BY name"); err != nil {
		return nil, dbErrorf("list projects: %w", err)
	}
	out := make([]gateway.Project, len(rows))
	for i, r := range rows {
		out[i] = gateway.Project{Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt.time()}
	}
	return out, nil
}

// AddUser records a user (a Unix login); a zero CreatedAt becomes now. Errors: CodeInvalid for
// an empty name, CodeConflict (field "name") when it exists.
func (s *DB) AddUser(ctx context.Context, u gateway.User) error {
	if err := required("name", u.Name); err != nil {
		return err
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	_, err := s.exec(ctx, "INSERT INTO users (name, site_admin, disabled, created_at) VALUES (?, ?, ?, ?)",
		u.Name, u.SiteAdmin, u.Disabled, nt(u.CreatedAt))
	if isUnique(err, "users.name") {
		return conflictOn("name", "user %q already exists", u.Name)
	}
	if err != nil {
		return dbErrorf("add user %s: %w", u.Name, err)
	}
	return nil
}

// Users lists every user by name.
func (s *DB) Users(ctx context.Context) ([]gateway.User, error) {
	var rows []userRow
	if err := s.db.SelectContext(ctx, &rows, "SELECT name, site_admin, disabled, created_at FROM users ORDER BY name"); err != nil {
		return nil, dbErrorf("list users: %w", err)
	}
	out := make([]gateway.User, len(rows))
	for i, r := range rows {
		out[i] = gateway.User{Name: r.Name, SiteAdmin: r.SiteAdmin, Disabled: r.Disabled, CreatedAt: r.CreatedAt.time()}
	}
	return out, nil
}

// User returns the user called name, or a CodeNotFound *gateway.Error.
func (s *DB) User(ctx context.Context, name string) (gateway.User, error) {
	var r userRow
	err := s.db.GetContext(ctx, &r, "SELECT name, site_admin, disabled, created_at FROM users WHERE name = ?", name)
	if errors.Is(err, sql.ErrNoRows) {
		return gateway.User{}, gateway.NotFound("user", name)
	}
	if err != nil {
		return gateway.User{}, dbErrorf("read user %s: %w", name, err)
	}
	return gateway.User{Name: r.Name, SiteAdmin: r.SiteAdmin, Disabled: r.Disabled, CreatedAt: r.CreatedAt.time()}, nil
}

// SetUserDisabled disables (or enables again) a user: a disabled user's tokens stop
// authenticating. Returns CodeNotFound for an unknown user.
func (s *DB) SetUserDisabled(ctx context.Context, name string, disabled bool) error {
	res, err := s.exec(ctx, "UPDATE users SET disabled = ? WHERE name = ?", disabled, name)
	return affectedOne(res, err, "user", name)
}

// affectedOne turns a write that touched no row into CodeNotFound for kind id.
func affectedOne(res sql.Result, err error, kind, id string) error {
	if err != nil {
		return dbErrorf("update %s %s: %w", kind, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbErrorf("update %s %s: %w", kind, id, err)
	}
	if n == 0 {
		return gateway.NotFound(kind, id)
	}
	return nil
}

// exists returns CodeNotFound unless table has a row whose name is name.
func exists(ctx context.Context, q sqlx.QueryerContext, table, kind, name string) error {
	var n int
	if err := sqlx.GetContext(ctx, q, &n, "SELECT COUNT(*) FROM "+table+" WHERE name = ?", name); err != nil {
		return dbErrorf("read %s %s: %w", kind, name, err)
	}
	if n == 0 {
		return gateway.NotFound(kind, name)
	}
	return nil
}

// AddMember gives user role in project, replacing the role they had there. Errors: CodeInvalid
// for a role other than member or admin; CodeNotFound for an unknown project or user.
func (s *DB) AddMember(ctx context.Context, project, user string, role gateway.Role) error {
	if role != gateway.RoleMember && role != gateway.RoleAdmin {
		var p gateway.Problems
		p.Add("role", "must be %q or %q", gateway.RoleMember, gateway.RoleAdmin)
		return p.Err("invalid membership")
	}
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		if err := exists(ctx, tx, "projects", "project", project); err != nil {
			return err
		}
		if err := exists(ctx, tx, "users", "user", user); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO memberships (project, user, role) VALUES (?, ?, ?)
			ON CONFLICT (project, user) DO UPDATE SET role = excluded.role`, project, user, role)
		if err != nil {
			return dbErrorf("add %s to %s: %w", user, project, err)
		}
		return nil
	})
}

// RemoveMember takes user out of project. Returns CodeNotFound when they are not a member.
func (s *DB) RemoveMember(ctx context.Context, project, user string) error {
	res, err := s.exec(ctx, "DELETE FROM memberships WHERE project = ? AND user = ?", project, user)
	return affectedOne(res, err, "membership", project+"/"+user)
}

// Members lists a project's members by user name. Returns CodeNotFound for an unknown project.
func (s *DB) Members(ctx context.Context, project string) ([]Member, error) {
	if err := exists(ctx, s.db, "projects", "project", project); err != nil {
		return nil, err
	}
	members := []Member{}
	if err := s.db.SelectContext(ctx, &members,
		"SELECT project, user, role FROM memberships WHERE project = ? ORDER BY user", project); err != nil {
		return nil, dbErrorf("list members of %s: %w", project, err)
	}
	return members, nil
}

// roles returns user's roles by project (never nil).
func (s *DB) roles(ctx context.Context, user string) (map[string]gateway.Role, error) {
	var ms []Member
	if err := s.db.SelectContext(ctx, &ms, "SELECT project, user, role FROM memberships WHERE user = ?", user); err != nil {
		return nil, dbErrorf("read roles of %s: %w", user, err)
	}
	out := make(map[string]gateway.Role, len(ms))
	for _, m := range ms {
		out[m.Project] = m.Role
	}
	return out, nil
}
