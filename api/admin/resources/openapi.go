package resources

import (
	_ "embed"
	"slices"
)

// openAPIFragment documents the routes Register adds: an OpenAPI 3.1
// fragment with paths (below /admin/api/v1) and components.schemas, for
// the admin server to merge into its document. It is a package variable
// because embedding fills only those; nothing writes it.
//
//go:embed openapi.yaml
var openAPIFragment []byte

// OpenAPIFragment returns the fragment (YAML).
func OpenAPIFragment() []byte { return slices.Clone(openAPIFragment) }
