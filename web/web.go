// Package web holds batchgate's web console: hand-written HTML, CSS and JavaScript modules,
// embedded in the binary so the console needs no build step, no CDN and no network at run time.
// The console is a client of the public API only; the gateway serves these files at "/".
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var static embed.FS

// Assets returns the console's files, rooted so that "index.html" is the page served at "/".
// The tree is fixed at build time; it never fails at run time.
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		// fs.Sub fails only for an invalid path literal, which the tests would catch.
		panic("web: " + err.Error())
	}
	return sub
}
