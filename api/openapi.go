package api

import (
	_ "embed"
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"
)

// OpenAPIPath is where the server publishes its OpenAPI document.
const OpenAPIPath = "/api/openapi.yaml"

// openAPIContentType is the media type of YAML (RFC 9512).
const openAPIContentType = "application/yaml; charset=utf-8"

// openAPIDocument is the OpenAPI 3.1 description of this API. It is a
// package variable because go:embed only fills those; nothing writes it.
// The package's tests keep it in step with the routes, codes and types.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI 3.1 document (YAML) that the server
// publishes at OpenAPIPath.
func OpenAPIDocument() []byte { return slices.Clone(openAPIDocument) }

// openAPI serves the document. It needs no authentication: it describes
// the API and holds nothing secret.
func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, openAPIContentType, openAPIDocument)
}
