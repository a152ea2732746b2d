package adminhttptest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/adminhttp/adminhttptest"
)

func TestAuthAndWriteProblem(t *testing.T) {
	e := echo.New()
	e.HTTPErrorHandler = adminhttptest.WriteProblem
	g := e.Group("", adminhttptest.Auth("-user"))
	g.GET("/me", func(c echo.Context) error {
		p, ok := adminhttp.PrincipalFrom(c)
		if !ok {
			return adminhttp.Unauthorized("signed out")
		}
		return c.String(http.StatusOK, p.Username+" "+string(p.Role))
	})
	g.GET("/boom", func(echo.Context) error { return errors.New("boom") })

	get := func(path, auth string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	code, body := get("/me", "Bearer test-operator")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "operator-user operator", body)

	for _, auth := range []string{"", "Bearer test-nobody", "Bearer operator"} {
		code, body = get("/me", auth)
		require.Equal(t, http.StatusUnauthorized, code, auth)
		var p adminhttp.Problem
		require.NoError(t, json.Unmarshal([]byte(body), &p))
		require.Equal(t, adminhttp.CodeUnauthorized, p.Code)
	}

	code, body = get("/boom", "")
	require.Equal(t, http.StatusInternalServerError, code)
	require.Contains(t, body, "boom")

	code, _ = get("/nowhere", "")
	require.Equal(t, http.StatusNotFound, code)
}
