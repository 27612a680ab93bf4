package sqlite

import (
	"context"
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
	"time"

	"batchgate/gateway"
)

// Page sizes for Containers.
const (
	defaultPageSize = 50
	maxPageSize     = 500
)

// Containers returns one page of the containers f.Visible may see, newest first (by creation
// time, then id), with f's optional state and name-substring filters, and the cursor of the next
// page ("" after the last). Visibility is part of the query, so every page but the last is full:
// a site admin sees all; a project admin all of that project's; a member their own in that
// project. A cursor stays valid while containers are added or deleted: a page never repeats or
// skips a container that existed when the listing began. Limit defaults to 50, at most 500.
// A malformed cursor is a CodeInvalid *gateway.Error on field "cursor".
func (s *DB) Containers(ctx context.Context, f gateway.ContainerFilter) ([]*gateway.Container, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultPageSize
	}
	limit = min(limit, maxPageSize)
	query, args, err := containersQuery(f, limit)
	if err != nil || query == "" {
		return []*gateway.Container{}, "", err
	}
	page, err := s.containerRows(ctx, query, args, limit+1)
	if err != nil {
		return nil, "", dbErrorf("list containers: %w", err)
	}
	next := ""
	if len(page) > limit {
		page = page[:limit]
		last := page[limit-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return page, next, nil
}

// containerRows runs query (selecting containerColumns) and reads its rows (about size of them)
// straight into containers: a listing reads thousands of rows a second.
func (s *DB) containerRows(ctx context.Context, query string, args []any, size int) ([]*gateway.Container, error) {
	rs, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := make([]*gateway.Container, 0, size)
	var r containerScan
	for rs.Next() {
		c, err := r.scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rs.Err()
}

// containersQuery builds the query for one page of limit+1 rows (the extra row tells whether
// there is a next page); "" when the principal can see nothing.
func containersQuery(f gateway.ContainerFilter, limit int) (string, []any, error) {
	scopes := visibleScopes(f.Visible)
	if len(scopes) == 0 {
		return "", nil, nil
	}
	var filter []string
	var filterArgs []any
	if f.State != "" {
		filter = append(filter, "state = ?")
		filterArgs = append(filterArgs, f.State)
	}
	if f.Name != "" {
		filter = append(filter, "instr(name, ?) > 0") // a substring, without LIKE's wildcards
		filterArgs = append(filterArgs, f.Name)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return "", nil, err
		}
		filter = append(filter, "(created_at, id) < (?, ?)")
		filterArgs = append(filterArgs, at, id)
	}
	// One branch per scope, each ordered and limited on its own index, merged and limited again:
	// a page reads about Limit rows per scope, however many containers the others hold.
	var branches []string
	var args []any
	for _, sc := range scopes {
		where := append(append([]string{}, sc.where...), filter...)
		if len(where) == 0 {
			where = []string{"1"}
		}
		branches = append(branches, "SELECT * FROM (SELECT "+containerColumns+" FROM containers WHERE "+
			strings.Join(where, " AND ")+" ORDER BY created_at DESC, id DESC LIMIT ?)")
		args = append(append(append(args, sc.args...), filterArgs...), limit+1)
	}
	query := strings.Join(branches, " UNION ALL ") + " ORDER BY created_at DESC, id DESC LIMIT ?"
	return query, append(args, limit+1), nil
}

// scope is one disjoint part of what a principal may see, as SQL conditions.
type scope struct {
	where []string
	args  []any
}

// visibleScopes turns gateway.Principal.CanAccess into SQL: one unconditional scope for a site
// admin, else one per project (all of it for an admin, the user's own for a member). The
// projects are sorted so the same principal always yields the same query text.
func visibleScopes(p gateway.Principal) []scope {
	if p.SiteAdmin {
		return []scope{{}}
	}
	projects := make([]string, 0, len(p.Projects))
	for name := range p.Projects {
		projects = append(projects, name)
	}
	sort.Strings(projects)
	var scopes []scope
	for _, name := range projects {
		switch p.Projects[name] {
		case gateway.RoleAdmin:
			scopes = append(scopes, scope{where: []string{"project = ?"}, args: []any{name}})
		case gateway.RoleMember:
			if p.User != "" {
				scopes = append(scopes, scope{where: []string{"project = ?", "owner = ?"}, args: []any{name, p.User}})
			}
		}
	}
	return scopes
}

// encodeCursor makes the opaque cursor after the container (at, id).
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixNano(), 10) + ":" + id))
}

func decodeCursor(cursor string) (int64, string, error) {
	bad := &gateway.Error{Code: gateway.CodeInvalid, Message: "invalid cursor",
		Fields: []gateway.FieldError{{Field: "cursor", Detail: "is not a cursor this server returned; start again without one"}}}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, "", bad
	}
	at, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", bad
	}
	return n, id, nil
}
