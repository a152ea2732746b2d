// Package adminhttptest stands in for the admin server around a route
// group under test: a sign-in by bearer role instead of tokens, and errors
// written as Problems, so each route package's tests need not carry their
// own copies.
package adminhttptest

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
)

// Auth returns middleware that signs a request in from "Authorization:
// Bearer test-<role>" as user 1 named <role><nameSuffix>; any other header
// leaves it signed out.
func Auth(nameSuffix string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if role, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer test-"); ok {
				if r, err := adminhttp.ParseRole(role); err == nil {
					adminhttp.SetPrincipal(c, adminhttp.Principal{UserID: 1, Username: role + nameSuffix, Role: r})
				}
			}
			return next(c)
		}
	}
}

// WriteProblem is an echo error handler that answers a Problem with its
// status and body, an echo.HTTPError with its code, and anything else with
// a 500 that quotes the error, so a test sees what went wrong.
func WriteProblem(err error, c echo.Context) {
	if p, ok := adminhttp.AsProblem(err); ok {
		_ = c.JSON(p.Status, p)
		return
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		_ = c.JSON(he.Code, map[string]any{"code": "http", "message": fmt.Sprint(he.Message)})
		return
	}
	_ = c.JSON(http.StatusInternalServerError, map[string]any{"code": adminhttp.CodeInternal, "message": err.Error()})
}
