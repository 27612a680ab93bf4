package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"batchgate/gateway"
	"batchgate/gateway/sqlite"
)

const adminUsage = `usage: batchgate admin <object> <verb> [flags]

  project add NAME [--description TEXT]        a project is a Slurm account
  project list
  user add NAME [--site-admin]                 a user is a Unix login on the cluster
  user list
  user disable NAME | user enable NAME
  member add PROJECT USER [--role member|admin]
  member remove PROJECT USER
  member list PROJECT
  token create USER [--name NAME] [--expires 720h] [--out FILE]   prints the token once
  token list USER
  token revoke ID

Every command takes --config FILE and the --KEY=VALUE overrides of 'batchgate serve' (it opens
the same database). Add commands also take --exist-ok: an existing project/user/member is fine.
`

// admin runs `batchgate admin ...` against the gateway's database directly: it needs no running
// gateway, and works while one runs (SQLite in WAL mode, writers wait for each other).
func admin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, adminUsage)
		return usageError{errors.New("admin: missing object and verb")}
	}
	object, verb := args[0], args[1]
	// Positional arguments come first (admin project add NAME --flags...): the flag package
	// stops at the first non-flag.
	rest := args[2:]
	var positional []string
	for len(rest) > 0 && (rest[0] == "" || rest[0][0] != '-') {
		positional, rest = append(positional, rest[0]), rest[1:]
	}
	opts := adminFlags{args: &positional}
	cfg, err := loadConfig("admin "+object+" "+verb, rest, stderr, opts.register)
	if err != nil {
		return err
	}
	db, err := sqlite.Open(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer db.Close()
	a := adminCmd{db: db, out: stdout, opts: opts, created: new(string)}
	err = a.run(ctx, object, verb)
	if adminChanges[verb] {
		if aerr := a.audit(ctx, object, verb, err); aerr != nil {
			// The change is made; say that its record is missing rather than hide it.
			fmt.Fprintf(stderr, "batchgate admin: warning: the audit entry was not recorded: %v\n", aerr)
		}
	}
	if err != nil {
		if opts.existOK && gateway.ErrorCode(err) == gateway.CodeConflict {
			return nil
		}
		return fmt.Errorf("admin %s %s: %w", object, verb, err)
	}
	return nil
}

type adminFlags struct {
	description, role, name, out string
	siteAdmin, existOK           bool
	expires                      time.Duration
	args                         *[]string
}

func (o *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.description, "description", "", "project description")
	fs.StringVar(&o.role, "role", "member", "role in the project: member or admin")
	fs.StringVar(&o.name, "name", "", "token name")
	fs.StringVar(&o.out, "out", "", "token create: also write the token to this file (mode 0600)")
	fs.BoolVar(&o.siteAdmin, "site-admin", false, "user add: make the user a site admin")
	fs.BoolVar(&o.existOK, "exist-ok", false, "add: succeed when it already exists")
	fs.DurationVar(&o.expires, "expires", 0, "token create: lifetime (e.g. 720h); 0 = no expiry")
}

type adminCmd struct {
	db   *sqlite.DB
	out  io.Writer
	opts adminFlags
	// created is the id of a token made by this command, for its audit entry.
	created *string
}

func (a adminCmd) run(ctx context.Context, object, verb string) error {
	args := *a.opts.args
	need := func(n int, what string) error {
		if len(args) != n {
			return fmt.Errorf("expected %s", what)
		}
		return nil
	}
	now := time.Now().UTC()
	switch object + " " + verb {
	case "project add":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		return a.db.AddProject(ctx, gateway.Project{Name: args[0], Description: a.opts.description, CreatedAt: now})
	case "project list":
		projects, err := a.db.Projects(ctx)
		if err != nil {
			return err
		}
		return a.table("PROJECT\tDESCRIPTION", len(projects), func(i int) string {
			return projects[i].Name + "\t" + projects[i].Description
		})
	case "user add":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		return a.db.AddUser(ctx, gateway.User{Name: args[0], SiteAdmin: a.opts.siteAdmin, CreatedAt: now})
	case "user list":
		users, err := a.db.Users(ctx)
		if err != nil {
			return err
		}
		return a.table("USER\tSITE ADMIN\tDISABLED", len(users), func(i int) string {
			return fmt.Sprintf("%s\t%v\t%v", users[i].Name, users[i].SiteAdmin, users[i].Disabled)
		})
	case "user disable", "user enable":
		if err := need(1, "NAME"); err != nil {
			return err
		}
		return a.db.SetUserDisabled(ctx, args[0], verb == "disable")
	case "member add":
		if err := need(2, "PROJECT USER"); err != nil {
			return err
		}
		if a.opts.role != string(gateway.RoleMember) && a.opts.role != string(gateway.RoleAdmin) {
			return fmt.Errorf("--role %q: accepted: member, admin", a.opts.role)
		}
		return a.db.AddMember(ctx, args[0], args[1], gateway.Role(a.opts.role))
	case "member remove":
		if err := need(2, "PROJECT USER"); err != nil {
			return err
		}
		return a.db.RemoveMember(ctx, args[0], args[1])
	case "member list":
		if err := need(1, "PROJECT"); err != nil {
			return err
		}
		members, err := a.db.Members(ctx, args[0])
		if err != nil {
			return err
		}
		return a.table("USER\tROLE", len(members), func(i int) string {
			return members[i].User + "\t" + string(members[i].Role)
		})
	case "token create":
		if err := need(1, "USER"); err != nil {
			return err
		}
		return a.createToken(ctx, args[0], now)
	case "token list":
		if err := need(1, "USER"); err != nil {
			return err
		}
		tokens, err := a.db.Tokens(ctx, args[0])
		if err != nil {
			return err
		}
		return a.table("ID\tNAME\tCREATED\tEXPIRES\tREVOKED\tLAST USED", len(tokens), func(i int) string {
			t := tokens[i]
			return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", t.ID, t.Name, t.CreatedAt.Format(time.RFC3339),
				timeOrDash(t.ExpiresAt), timeOrDash(t.RevokedAt), timeOrDash(t.LastUsedAt))
		})
	case "token revoke":
		if err := need(1, "ID"); err != nil {
			return err
		}
		return a.db.RevokeToken(ctx, args[0])
	}
	return fmt.Errorf("unknown command; see `batchgate admin`")
}

// createToken makes a token, stores only its hash, and prints it (and writes it to --out) once.
func (a adminCmd) createToken(ctx context.Context, user string, now time.Time) error {
	token, hash := gateway.NewToken()
	var expires *time.Time
	if a.opts.expires > 0 {
		e := now.Add(a.opts.expires)
		expires = &e
	}
	id, err := a.db.CreateToken(ctx, user, a.opts.name, hash, expires)
	if err != nil {
		return err
	}
	*a.created = id
	if a.opts.out != "" {
		if err := os.MkdirAll(filepath.Dir(a.opts.out), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(a.opts.out, []byte(token+"\n"), 0o600); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.out, "token %s for %s (shown once; only its hash is kept):\n%s\n", id, user, token)
	return nil
}

func (a adminCmd) table(header string, n int, row func(int) string) error {
	tw := tabwriter.NewWriter(a.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for i := range n {
		fmt.Fprintln(tw, row(i))
	}
	return tw.Flush()
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
