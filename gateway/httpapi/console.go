package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

// consoleFile is one embedded console asset, read once at start-up.
type consoleFile struct {
	body  []byte
	ctype string
	etag  string
}

// consoleCSP keeps the console to its own origin: no inline script, no outside fonts or scripts.
// Downloads of sealed logs are navigations to a presigned URL, which connect-src does not govern.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// loadConsole reads every file of assets into memory (the console is a few dozen KiB).
func loadConsole(assets fs.FS) (map[string]consoleFile, error) {
	files := map[string]consoleFile{}
	err := fs.WalkDir(assets, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assets, name)
		if err != nil {
			return err
		}
		ctype := mime.TypeByExtension(path.Ext(name))
		if ctype == "" {
			ctype = fiber.MIMEOctetStream
		}
		sum := sha256.Sum256(body)
		files["/"+name] = consoleFile{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return files, err
}

// serveConsole answers GET and HEAD for the console's files; "/" is index.html. It runs after the
// route table, so API, health and metrics routes keep priority, and anything it does not know
// (every unknown /api/ path included) falls through to the problem+json 404.
func (s *Server) serveConsole(c *fiber.Ctx) error {
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return c.Next()
	}
	p := c.Path()
	if p == "/" {
		p = "/index.html"
	}
	f, ok := s.console[p]
	if !ok || strings.HasPrefix(p, "/api/") {
		return c.Next()
	}
	c.Set(fiber.HeaderContentType, f.ctype)
	c.Set(fiber.HeaderETag, f.etag)
	// Revalidate every time: the files change with the binary, and the ETag makes it cheap.
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set("Referrer-Policy", "no-referrer")
	if p == "/index.html" {
		c.Set(fiber.HeaderContentSecurityPolicy, consoleCSP)
		c.Set(fiber.HeaderXFrameOptions, "DENY")
	}
	if c.Get(fiber.HeaderIfNoneMatch) == f.etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Send(f.body)
}

// clusterView is what a client needs to know about the site and the caller: the cluster's time
// zone and the earliest hour a schedule may name, who the caller is, and where storage goes.
type clusterView struct {
	Timezone      string        `json:"timezone"`
	Now           time.Time     `json:"now"`
	NextWholeHour time.Time     `json:"next_whole_hour"`
	User          string        `json:"user"`
	SiteAdmin     bool          `json:"site_admin"`
	Projects      []projectRole `json:"projects"`
	Binds         []string      `json:"binds"`
	LogObject     string        `json:"log_object"`
}

// projectRole is the caller's role in one project.
type projectRole struct {
	Name string       `json:"name"`
	Role gateway.Role `json:"role"`
}

// cluster answers the site's time zone and next allowed hour, the caller's identity and roles,
// the HFS directories bound into the caller's containers and the COS key pattern of task logs.
func (s *Server) cluster(c *fiber.Ctx) error {
	p := principal(c)
	loc := s.svc.Location()
	now := time.Now().In(loc)
	v := clusterView{
		Timezone: loc.String(), Now: now, NextWholeHour: gateway.NextWholeHour(now, loc),
		User: p.User, SiteAdmin: p.SiteAdmin, Projects: []projectRole{},
		Binds:     []string{s.svc.HomeDir(p.User), s.svc.WorkDir(p.User)},
		LogObject: gateway.LogObjectPrefix("{project}", "{container}", "{task}") + "{task}.log",
	}
	for name, role := range p.Projects {
		v.Projects = append(v.Projects, projectRole{Name: name, Role: role})
	}
	sort.Slice(v.Projects, func(i, j int) bool { return v.Projects[i].Name < v.Projects[j].Name })
	return c.JSON(v)
}
