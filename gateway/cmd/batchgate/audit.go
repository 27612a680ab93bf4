package main

import (
	"context"
	"os"
	"os/user"
	"strconv"
	"strings"

	"batchgate/gateway"
)

// adminChanges are the verbs of `batchgate admin` that change something; each run of one is
// recorded in the audit trail, like the API's changes, whatever its result.
var adminChanges = map[string]bool{"add": true, "remove": true, "disable": true, "enable": true,
	"create": true, "revoke": true}

// audit records one admin command: the operator's login (the sudo caller's when run with sudo),
// "admin.OBJECT.VERB", the resource it named, and the result. The token itself is never recorded.
func (a adminCmd) audit(ctx context.Context, object, verb string, err error) error {
	args := *a.opts.args
	e := gateway.AuditEntry{Actor: operator(), Action: "admin." + object + "." + verb, Remote: "local",
		Result: gateway.AuditResult(err), Resource: object + "/" + strings.Join(args, "/")}
	switch object {
	case "project":
		e.Project = first(args)
	case "member":
		e.Project = first(args)
		if verb == "add" {
			e.Detail = "role " + a.opts.role
		}
	case "token":
		if verb == "create" {
			e.Detail = "for user " + first(args)
			if a.opts.name != "" {
				e.Detail += ", named " + a.opts.name
			}
			e.Resource = "token/" + *a.created // empty id when creation failed
		}
	case "user":
		if verb == "add" && a.opts.siteAdmin {
			e.Detail = "site admin"
		}
	}
	if a.opts.existOK && gateway.ErrorCode(err) == gateway.CodeConflict {
		e.Detail = strings.TrimPrefix(e.Detail+"; already existed (--exist-ok)", "; ")
	}
	_, aerr := a.db.AppendAudit(ctx, e)
	return aerr
}

// operator is who runs the command: the login that invoked sudo, else the current user.
func operator() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "uid:" + strconv.Itoa(os.Getuid())
}

func first(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
