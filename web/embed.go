// Package web holds Herald's operators' console: a Vite + Vue app whose
// sources live in this directory and whose build output, web/dist, is
// committed and embedded into the binary, so `go run ./cmd/herald dev`
// serves the console with only Go installed. CI rebuilds dist and fails
// when the committed copy is stale.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built console: index.html at its root and the hashed
// bundles under assets/.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		// fs.Sub fails only on an invalid path; "dist" is a constant.
		panic(err)
	}
	return sub
}
