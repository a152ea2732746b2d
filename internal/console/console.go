// Package console serves the operators' web console, a single-page app
// built by Vite, from a file system (web.Dist in the binary):
//
//	console.Mount(mux, web.Dist())
//
// serves it under /console/, where the app's router takes over: a path
// that names no file answers index.html, so a reload or a shared link to
// /console/messages/abc opens the app on that page. Hashed bundles under
// /console/assets/ are cached for a year; index.html is revalidated on
// every load, so a new release reaches browsers at once.
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Prefix is the path the console is served under.
const Prefix = "/console/"

// ContentSecurityPolicy is sent with every console response. Vite emits
// only external module scripts and stylesheets, so scripts come from the
// console's own origin and nothing inline runs. Styles allow 'unsafe-inline'
// because the component library injects its computed styles at run time
// (style elements), which cannot carry a hash known at build time; styles
// cannot run code. The API the console calls is on the same origin.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; " +
	"object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// assetsDir holds the content-hashed bundles: a changed file gets a new
// name, so a cached copy can never be stale.
const assetsDir = "assets/"

// contentTypes are set explicitly for the kinds of files a Vite build
// emits, so the answer does not depend on the host's MIME database.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".jpg":   "image/jpeg",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".woff":  "font/woff",
	".woff2": "font/woff2",
	".ttf":   "font/ttf",
	".txt":   "text/plain; charset=utf-8",
	".wasm":  "application/wasm",
}

// compressible lists the text types worth gzipping; images and fonts are
// compressed already.
var compressible = map[string]bool{".html": true, ".js": true, ".mjs": true, ".css": true, ".json": true, ".map": true, ".svg": true, ".txt": true}

// Mount serves fsys under Prefix on mux, and redirects /console to it.
func Mount(mux *http.ServeMux, fsys fs.FS) {
	mux.Handle(Prefix, Handler(fsys))
	mux.Handle(strings.TrimSuffix(Prefix, "/"), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := Prefix
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusMovedPermanently)
	}))
}

// Handler serves fsys for requests whose paths start with Prefix.
func Handler(fsys fs.FS) http.Handler {
	return &handler{fsys: fsys, files: map[string]*file{}}
}

type handler struct {
	fsys fs.FS

	mu    sync.Mutex
	files map[string]*file
}

// file is one file of the build, read once: the build is embedded and
// never changes while the process runs.
type file struct {
	body    []byte
	gzipped []byte // nil when not worth compressing
	etag    string
	ctype   string
	modTime time.Time
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "the console answers GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	f, err := h.open(name)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist) && !strings.HasPrefix(name, assetsDir):
		// A route of the app, not a file: the app's router shows it. A
		// missing bundle stays a 404, or the browser would run HTML as
		// a script and report something far from the cause.
		name = "index.html"
		if f, err = h.open(name); err != nil {
			http.Error(w, "the console is not built into this binary", http.StatusNotFound)
			return
		}
	case errors.Is(err, fs.ErrNotExist):
		http.NotFound(w, r)
		return
	default:
		http.Error(w, "read console file", http.StatusInternalServerError)
		return
	}
	if strings.HasPrefix(name, assetsDir) {
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		hdr.Set("Cache-Control", "no-cache")
	}
	hdr.Set("Content-Type", f.ctype)
	hdr.Set("ETag", f.etag)
	body := f.body
	if f.gzipped != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hdr.Set("Content-Encoding", "gzip")
			// A different representation needs its own validator.
			hdr.Set("ETag", strings.TrimSuffix(f.etag, `"`)+`-gz"`)
			body = f.gzipped
		}
	}
	http.ServeContent(w, r, "", f.modTime, bytes.NewReader(body))
}

// open returns the named file of the build, reading it on first use.
func (h *handler) open(name string) (*file, error) {
	if name == "" || name == "." {
		name = "index.html"
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if f, ok := h.files[name]; ok {
		return f, nil
	}
	st, err := fs.Stat(h.fsys, name)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fs.ErrNotExist
	}
	body, err := fs.ReadFile(h.fsys, name)
	if err != nil {
		return nil, err
	}
	ext := path.Ext(name)
	sum := sha256.Sum256(body)
	f := &file{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, modTime: st.ModTime()}
	if f.ctype = contentTypes[ext]; f.ctype == "" {
		if f.ctype = mime.TypeByExtension(ext); f.ctype == "" {
			f.ctype = "application/octet-stream"
		}
	}
	if compressible[ext] && len(body) > 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			f.gzipped = buf.Bytes()
		}
	}
	h.files[name] = f
	return f, nil
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}
