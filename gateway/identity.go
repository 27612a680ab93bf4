package gateway

import "time"

// Role is a user's role in a project.
type Role string

// Roles. A member sees and acts on their own containers in the project; an admin on all of the
// project's containers. A site admin (Principal.SiteAdmin) sees and acts on everything.
const (
	RoleMember Role = "member"
	RoleAdmin  Role = "admin"
)

// Principal is who is calling: a Unix login, their roles by project, and whether they are a site
// admin. It is built from a valid token by the Authenticator.
type Principal struct {
	User      string
	SiteAdmin bool
	Projects  map[string]Role
}

// CanAccess reports whether p may see and act on a resource of project owned by owner. Callers
// answer "not found" when it is false, so ids leak nothing.
func (p Principal) CanAccess(project, owner string) bool {
	if p.SiteAdmin {
		return true
	}
	switch p.Projects[project] {
	case RoleAdmin:
		return true
	case RoleMember:
		return owner == p.User
	}
	return false
}

// CanCreateIn reports whether p may create containers in project (as themself).
func (p Principal) CanCreateIn(project string) bool {
	_, ok := p.Projects[project]
	return ok
}

// Project is a Slurm account that users share.
type Project struct {
	Name        string    `json:"name" db:"name"`
	Description string    `json:"description" db:"description"`
	CreatedAt   time.Time `json:"created_at" db:"created_at"`
}

// User is a Unix login on the cluster known to the gateway.
type User struct {
	Name      string    `json:"name" db:"name"`
	SiteAdmin bool      `json:"site_admin" db:"site_admin"`
	Disabled  bool      `json:"disabled" db:"disabled"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
}
