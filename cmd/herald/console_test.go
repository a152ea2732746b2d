package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/console"
)

// noRedirect is a client that reports redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func getURL(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	require.NoError(t, err)
	res, err := noRedirect.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, string(body)
}

// requireConsole checks that base serves the console and the operators'
// API, with the merged OpenAPI document.
func requireConsole(t *testing.T, base string) {
	t.Helper()
	res, body := getURL(t, base+"/console/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, body, "<html")
	require.Equal(t, console.ContentSecurityPolicy, res.Header.Get("Content-Security-Policy"))
	require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"))
	res, _ = getURL(t, base+"/console/messages/some-task")
	require.Equal(t, http.StatusOK, res.StatusCode, "app routes answer index.html")
	res, _ = getURL(t, base+"/console")
	require.Equal(t, http.StatusMovedPermanently, res.StatusCode)
	require.Equal(t, "/console/", res.Header.Get("Location"))

	res, body = getURL(t, base+"/admin/api/v1/openapi.yaml")
	require.Equal(t, http.StatusOK, res.StatusCode)
	for _, path := range []string{"/breakers:", "/breakers/{account_id}/force:", "/quotas:", "/channels:", "/messages:", "/stats:"} {
		require.Contains(t, body, path, "the served OpenAPI document lacks %s", path)
	}
	res, _ = getURL(t, base+"/admin/api/v1/breakers")
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

// TestConsoleOnAPIListener: by default the API listener serves the
// console and the operators' API beside the client API.
func TestConsoleOnAPIListener(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	requireConsole(t, h.apiURL)
	require.Equal(t, h.apiURL, h.s.adminURL)
}

// TestAdminAddrSeparatesOperators: with admin.addr the operators' API and
// the console move to their own listener; the API listener, which clients
// and providers reach, no longer answers them.
func TestAdminAddrSeparatesOperators(t *testing.T) {
	t.Parallel()
	h, err := startHarness(harnessOptions{adminAddr: "127.0.0.1:0"})
	require.NoError(t, err)
	t.Cleanup(h.close)
	require.NotEqual(t, h.apiURL, h.s.adminURL)
	requireConsole(t, h.s.adminURL)

	for _, path := range []string{"/console/", "/console", "/admin/api/v1/openapi.yaml", "/admin/api/v1/me"} {
		res, body := getURL(t, h.apiURL+path)
		require.Equal(t, http.StatusNotFound, res.StatusCode, "%s on the API listener: %s", path, body)
	}
	res, _ := getURL(t, h.apiURL+"/api/openapi.yaml")
	require.Equal(t, http.StatusOK, res.StatusCode, "the client API stays where it was")

	var out strings.Builder
	printDevBanner(&out, h.s, demoInfo{AppID: demoAppID, ChannelID: 1}, devAdmin{Created: true, Password: "pw"})
	require.Contains(t, out.String(), "Console      "+h.s.adminURL+"/console/")
	require.Contains(t, out.String(), "login --url "+h.s.adminURL+" --username admin")
}
