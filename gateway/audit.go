package gateway

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"
)

// AuditEntry is one line of the audit trail: who did what to which resource of which project,
// when, from where, and how it ended (Result is "ok" or the error code the caller got). The trail
// is append-only.
type AuditEntry struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor"`
	Action   string    `json:"action"`
	Resource string    `json:"resource,omitempty"`
	// Project is the project the resource belongs to ("" for site-wide changes and for resources
	// that do not exist); it decides which project admins may read the entry.
	Project string `json:"project,omitempty"`
	Detail  string `json:"detail,omitempty"`
	Remote  string `json:"remote,omitempty"`
	Result  string `json:"result,omitempty"`
}

// AuditResultOK is the Result of a change that succeeded.
const AuditResultOK = "ok"

// AuditFilter selects audit entries; empty fields match everything. Projects, when not nil,
// limits the entries to those projects (an empty, non-nil list matches nothing). BeforeID pages
// backwards: only entries with a smaller id.
type AuditFilter struct {
	Actor    string
	Action   string
	Resource string
	Project  string
	Projects []string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	BeforeID int64
	Limit    int
}

// AuditLog is the append-only store of the audit trail (gateway/sqlite satisfies it).
type AuditLog interface {
	// AppendAudit appends e (a zero At is now) and returns its id; CodeInvalid without an actor
	// or an action.
	AppendAudit(ctx context.Context, e AuditEntry) (int64, error)
	// Audit returns the entries matching f, newest first, at most f.Limit of them.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// Audit limits for one page.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditReadable returns the projects whose audit entries p may read: all (nil, true) for a site
// admin, the projects p administers for a project admin, and ok=false for everyone else.
func (p Principal) AuditReadable() (projects []string, ok bool) {
	if p.SiteAdmin {
		return nil, true
	}
	for name, role := range p.Projects {
		if role == RoleAdmin {
			projects = append(projects, name)
		}
	}
	slices.Sort(projects)
	return projects, len(projects) > 0
}

// ReadAudit returns one page of the audit entries p may read, newest first, and the cursor of
// the next page ("" when this is the last). Site admins read everything; project admins read
// the entries of the projects they administer (asking for another project is CodeForbidden);
// anyone else gets CodeForbidden. A malformed cursor or limit is CodeInvalid.
func ReadAudit(ctx context.Context, log AuditLog, p Principal, f AuditFilter, cursor string) ([]AuditEntry, string, error) {
	projects, ok := p.AuditReadable()
	if !ok {
		return nil, "", Errorf(CodeForbidden, "reading the audit trail needs a project or site admin role")
	}
	var problems Problems
	if cursor != "" {
		id, err := strconv.ParseInt(cursor, 10, 64)
		if err != nil || id <= 0 {
			problems.Add("cursor", "is not a cursor this API returned")
		}
		f.BeforeID = id
	}
	switch {
	case f.Limit == 0:
		f.Limit = DefaultAuditLimit
	case f.Limit < 0 || f.Limit > MaxAuditLimit:
		problems.Add("limit", "must be 1 to %d", MaxAuditLimit)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		problems.Add("until", "must be after since")
	}
	if err := problems.Err("bad audit query"); err != nil {
		return nil, "", err
	}
	if !p.SiteAdmin {
		if f.Project != "" && !slices.Contains(projects, f.Project) {
			return nil, "", Errorf(CodeForbidden, "you are not an admin of project %q", f.Project)
		}
		f.Projects = projects
	}
	limit := f.Limit
	f.Limit++ // one more tells whether there is a next page
	page, err := log.Audit(ctx, f)
	if err != nil {
		return nil, "", err
	}
	if len(page) <= limit {
		return page, "", nil
	}
	page = page[:limit]
	return page, strconv.FormatInt(page[limit-1].ID, 10), nil
}

// AuditResult is the Result recorded for a change that ended with err: "ok" or its error code.
func AuditResult(err error) string {
	if err == nil {
		return AuditResultOK
	}
	var e *Error
	if errors.As(err, &e) {
		return string(e.Code)
	}
	return string(CodeInternal)
}

// ContainerProject returns the project of container id for attributing an audit entry, whoever
// asks: "" when there is no such container. It is not an access check and its answer must not
// be shown to callers.
func (s *Service) ContainerProject(ctx context.Context, id string) string {
	c, err := s.store.Container(ctx, id)
	if err != nil {
		return ""
	}
	return c.Project
}
