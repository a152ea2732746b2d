package console_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/console"
	"github.com/heraldhq/herald/web"
)

const indexHTML = `<!doctype html><html><head><script type="module" crossorigin src="/console/assets/index-3f2a.js"></script></head><body><div id="app"></div></body></html>`

var bigJS = "export const x = 1;\n" + strings.Repeat("console.log('herald');\n", 200)

func setup(t *testing.T) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	console.Mount(mux, fstest.MapFS{
		"index.html":             {Data: []byte(indexHTML)},
		"favicon.svg":            {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		"assets/index-3f2a.js":   {Data: []byte(bigJS)},
		"assets/index-9c1d.css":  {Data: []byte("body{margin:0}")},
		"assets/font-77aa.woff2": {Data: []byte("wOF2")},
	})
	return mux
}

func get(t *testing.T, h http.Handler, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}

func TestConsole(t *testing.T) {
	t.Parallel()
	h := setup(t)

	t.Run("RedirectsBareRoot", func(t *testing.T) {
		res := get(t, h, "/console?lang=en")
		require.Equal(t, http.StatusMovedPermanently, res.StatusCode)
		require.Equal(t, "/console/?lang=en", res.Header.Get("Location"))
	})
	t.Run("IndexIsRevalidated", func(t *testing.T) {
		res := get(t, h, "/console/")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "text/html; charset=utf-8", res.Header.Get("Content-Type"))
		require.Equal(t, "no-cache", res.Header.Get("Cache-Control"))
		require.Equal(t, indexHTML, body(t, res))
		etag := res.Header.Get("ETag")
		require.NotEmpty(t, etag)
		again := get(t, h, "/console/", "If-None-Match", etag)
		require.Equal(t, http.StatusNotModified, again.StatusCode)
	})
	t.Run("HashedAssetsAreCachedForAYear", func(t *testing.T) {
		res := get(t, h, "/console/assets/index-9c1d.css")
		require.Equal(t, http.StatusOK, res.StatusCode)
		require.Equal(t, "text/css; charset=utf-8", res.Header.Get("Content-Type"))
		require.Equal(t, "public, max-age=31536000, immutable", res.Header.Get("Cache-Control"))
		require.Equal(t, "body{margin:0}", body(t, res))

		font := get(t, h, "/console/assets/font-77aa.woff2")
		require.Equal(t, "font/woff2", font.Header.Get("Content-Type"))
	})
	t.Run("ScriptsAreGzippedForBrowsersThatAsk", func(t *testing.T) {
		plain := get(t, h, "/console/assets/index-3f2a.js")
		require.Equal(t, "text/javascript; charset=utf-8", plain.Header.Get("Content-Type"))
		require.Empty(t, plain.Header.Get("Content-Encoding"))
		require.Equal(t, bigJS, body(t, plain))

		res := get(t, h, "/console/assets/index-3f2a.js", "Accept-Encoding", "gzip, br")
		require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
		require.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
		require.NotEqual(t, plain.Header.Get("ETag"), res.Header.Get("ETag"))
		zr, err := gzip.NewReader(bytes.NewReader([]byte(body(t, res))))
		require.NoError(t, err)
		unzipped, err := io.ReadAll(zr)
		require.NoError(t, err)
		require.Equal(t, bigJS, string(unzipped))

		refused := get(t, h, "/console/assets/index-3f2a.js", "Accept-Encoding", "gzip;q=0")
		require.Empty(t, refused.Header.Get("Content-Encoding"))
	})
	t.Run("AppRoutesAnswerIndex", func(t *testing.T) {
		for _, p := range []string{"/console/messages", "/console/messages/abc-123", "/console/breakers/", "/console/settings/users?tab=2"} {
			res := get(t, h, p)
			require.Equal(t, http.StatusOK, res.StatusCode, p)
			require.Equal(t, "no-cache", res.Header.Get("Cache-Control"), p)
			require.Equal(t, indexHTML, body(t, res), p)
		}
	})
	t.Run("MissingAssetIsNotFound", func(t *testing.T) {
		res := get(t, h, "/console/assets/index-0000.js")
		require.Equal(t, http.StatusNotFound, res.StatusCode)
		require.NotContains(t, body(t, res), "<div id=\"app\">")
	})
	t.Run("SecurityHeadersOnEveryAnswer", func(t *testing.T) {
		for _, p := range []string{"/console/", "/console/assets/index-9c1d.css", "/console/assets/missing.js", "/console/favicon.svg"} {
			res := get(t, h, p)
			csp := res.Header.Get("Content-Security-Policy")
			require.Contains(t, csp, "script-src 'self';", p)
			require.Contains(t, csp, "frame-ancestors 'none'", p)
			require.NotContains(t, csp, "unsafe-eval", p)
			require.Equal(t, "nosniff", res.Header.Get("X-Content-Type-Options"), p)
			require.Equal(t, "DENY", res.Header.Get("X-Frame-Options"), p)
		}
	})
	t.Run("WritesAreRefused", func(t *testing.T) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/console/", strings.NewReader("x")))
		require.Equal(t, http.StatusMethodNotAllowed, rec.Code)
		require.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	})
}

// TestEmbeddedBuildHasNoInlineScript checks the committed build against
// the policy: every script of index.html is an external file of the build,
// since script-src 'self' would block an inline one.
func TestEmbeddedBuildHasNoInlineScript(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	console.Mount(mux, web.Dist())
	html := body(t, get(t, mux, "/console/"))
	require.Contains(t, html, "<html")
	rest := html
	for {
		i := strings.Index(rest, "<script")
		if i < 0 {
			break
		}
		end := strings.Index(rest[i:], ">")
		require.Positive(t, end, "unterminated script tag")
		tag := rest[i : i+end+1]
		require.Contains(t, tag, ` src="`, "inline script in the console's index.html: %s", tag)
		_, src, _ := strings.Cut(tag, ` src="`)
		src, _, _ = strings.Cut(src, `"`)
		require.True(t, strings.HasPrefix(src, console.Prefix), "script %s is not served from %s: build the console with base %s", src, console.Prefix, console.Prefix)
		res := get(t, mux, src)
		require.Equal(t, http.StatusOK, res.StatusCode, "script %s of index.html is not in the build", src)
		require.Equal(t, "text/javascript; charset=utf-8", res.Header.Get("Content-Type"))
		rest = rest[i+end:]
	}
}
