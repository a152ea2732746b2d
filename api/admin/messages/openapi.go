package messages

import _ "embed"

// OpenAPI is this package's fragment of the admin API document: paths
// below /admin/api/v1 and the components they use.
//
//go:embed openapi.yaml
var OpenAPI []byte
