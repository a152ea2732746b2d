package admin

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/clientip"
	"github.com/heraldhq/herald/store"
)

// Prefix is where the admin API lives.
const Prefix = "/admin/api/v1"

// The routes that need no access token.
const (
	pathLogin   = "/auth/login"
	pathRefresh = "/auth/refresh"
	pathLogout  = "/auth/logout"
	pathOpenAPI = "/openapi.yaml"
)

// publicRoutes are matched against echo's route path (c.Path()).
var publicRoutes = map[string]bool{
	Prefix + pathLogin: true, Prefix + pathRefresh: true, Prefix + pathLogout: true, Prefix + pathOpenAPI: true,
}

// Server is the operators' API.
type Server struct {
	cfg     Config
	db      *store.DB
	log     *zap.Logger
	now     func() time.Time
	trusted []netip.Prefix
	hasher  *Hasher
	tokens  *tokens
	users   *Users
	echo    *echo.Echo
	// codec serves CodecPrefix when set, to the browsers of
	// codecOrigins.
	codec        converter.PayloadCodec
	codecOrigins []string
	// openAPI is the served document: openapi.yaml with the route
	// groups' fragments merged in.
	openAPIDoc []byte
}

// New builds the server: it validates cfg (zero fields take defaults) and
// mounts deps.Routes on the authenticated group.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if deps.Store == nil {
		return nil, errors.New("new admin api server: Store is required")
	}
	trusted, err := clientip.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("new admin api server: trusted proxies: %w", err)
	}
	s := &Server{cfg: cfg, db: deps.Store, log: deps.Logger, now: deps.Now, trusted: trusted, codec: deps.Codec}
	if s.codecOrigins, err = codecOrigins(cfg.CodecOrigins); err != nil {
		return nil, fmt.Errorf("new admin api server: %w", err)
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.hasher, err = NewHasher(cfg.Argon2, cfg.Hashing); err != nil {
		return nil, fmt.Errorf("new admin api server: %w", err)
	}
	s.tokens = newTokens(cfg.MasterKey, cfg.AccessTokenTTL, s.now)
	s.users = NewUsers(deps.Store, s.hasher, s.now)
	if s.openAPIDoc, err = MergeOpenAPI(openAPIDocument, deps.OpenAPIFragments...); err != nil {
		return nil, fmt.Errorf("new admin api server: %w", err)
	}
	s.echo = s.routes(deps.Routes)
	return s, nil
}

// Handler serves everything under Prefix, and CodecPrefix when Deps.Codec
// is set; mount it at both.
func (s *Server) Handler() http.Handler { return s.echo }

// Hasher returns the server's password hasher.
func (s *Server) Hasher() *Hasher { return s.hasher }

func (s *Server) routes(extra []func(g *echo.Group)) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = clientip.Extractor(s.trusted)
	// Authentication runs for every request but the public routes, after
	// routing, so an unknown path or method still answers 404 or 405 to
	// a signed-in caller and 401 to anyone else.
	e.Use(s.logRequests, s.recoverPanics, s.codecCORS, s.limitBody, s.authenticate)

	g := e.Group(Prefix)
	g.POST(pathLogin, s.login)
	g.POST(pathRefresh, s.refresh)
	g.POST(pathLogout, s.logout)
	g.GET(pathOpenAPI, s.openAPI)

	g.GET("/me", s.me, adminhttp.Require(adminhttp.RoleViewer))
	g.GET("/users", s.listUsers, adminhttp.Require(adminhttp.RoleAdmin))
	g.POST("/users", s.createUser, adminhttp.Require(adminhttp.RoleAdmin))
	g.GET("/users/:id", s.getUser, adminhttp.Require(adminhttp.RoleAdmin))
	g.PATCH("/users/:id", s.updateUser, adminhttp.Require(adminhttp.RoleAdmin))
	g.POST("/users/:id/password", s.resetPassword, adminhttp.Require(adminhttp.RoleAdmin))
	g.GET("/audit", s.listAudit, adminhttp.Require(adminhttp.RoleOperator))
	for _, register := range extra {
		register(g)
	}
	if s.codec != nil {
		// Decoding shows receivers and contents, which only operators
		// and admins read unmasked.
		cg := e.Group(CodecPrefix)
		cg.POST("/decode", s.codecDecode, adminhttp.Require(adminhttp.RoleOperator))
		cg.POST("/encode", s.codecEncode, adminhttp.Require(adminhttp.RoleOperator))
	}
	return e
}

// handleError writes every error as a Problem body. Unknown errors are
// logged and answered as a bare 500.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	p := s.problemOf(err, c)
	if p.RetryAfterSeconds > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(p.RetryAfterSeconds))
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(p.Status)
	} else {
		werr = c.JSON(p.Status, p)
	}
	if werr != nil {
		s.log.Warn("write error answer", zap.Error(werr))
	}
}

func (s *Server) problemOf(err error, c echo.Context) *adminhttp.Problem {
	if p, ok := adminhttp.AsProblem(err); ok {
		if p.Status >= 500 {
			s.log.Error("admin api request failed", zap.String("method", c.Request().Method),
				zap.String("path", c.Path()), zap.Int("status", p.Status), zap.Error(p))
		}
		return p
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return &adminhttp.Problem{Status: http.StatusNotFound, Code: adminhttp.CodeNotFound,
				Message: fmt.Sprintf("no route %s %s: see %s/openapi.yaml", c.Request().Method, c.Request().URL.Path, Prefix)}
		case http.StatusMethodNotAllowed:
			return &adminhttp.Problem{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed,
				Message: fmt.Sprintf("%s is not allowed on %s", c.Request().Method, c.Request().URL.Path)}
		case http.StatusRequestEntityTooLarge:
			return tooLarge(s.cfg.MaxBodyBytes)
		case http.StatusBadRequest, http.StatusUnsupportedMediaType:
			return adminhttp.Invalid("", fmt.Sprintf("request is not valid: %v", he.Message))
		case http.StatusUnauthorized:
			return adminhttp.Unauthorized(fmt.Sprint(he.Message))
		case http.StatusForbidden:
			return adminhttp.Forbidden(fmt.Sprint(he.Message))
		}
	}
	s.log.Error("admin api request failed", zap.String("method", c.Request().Method),
		zap.String("path", c.Path()), zap.Error(err))
	return &adminhttp.Problem{Status: http.StatusInternalServerError, Code: adminhttp.CodeInternal, Message: "internal error"}
}

// CodeMethodNotAllowed answers a known path called with the wrong method.
const CodeMethodNotAllowed = "method_not_allowed"

func tooLarge(limit int64) *adminhttp.Problem {
	return &adminhttp.Problem{Status: http.StatusRequestEntityTooLarge, Code: adminhttp.CodeInvalid,
		Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
}

// limitBody refuses a declared oversized body at once and cuts an
// undeclared one at the limit.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := s.cfg.MaxBodyBytes
		if isCodecPath(req.URL.Path) {
			limit = max(limit, codecMaxBodyBytes)
		}
		if req.ContentLength > limit {
			return tooLarge(limit)
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		}
		return next(c)
	}
}

// logRequests writes one line per request: never bodies, query strings
// or tokens.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		fields := []zap.Field{
			zap.String("method", c.Request().Method),
			zap.String("path", c.Request().URL.Path),
			zap.Int("status", c.Response().Status),
			zap.Duration("latency", time.Since(start)),
		}
		if p, ok := adminhttp.PrincipalFrom(c); ok {
			fields = append(fields, zap.String("user", p.Username))
		}
		s.log.Info("admin request", fields...)
		return nil
	}
}

func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler { //nolint:errorlint // recover returns the panic value itself, and net/http panics with this very sentinel
					panic(r)
				}
				err = &adminhttp.Problem{Status: http.StatusInternalServerError, Code: adminhttp.CodeInternal,
					Message: "internal error", Err: fmt.Errorf("panic: %v", r)}
			}
		}()
		return next(c)
	}
}

// bindJSON decodes a JSON body into v, refusing unknown fields, and says
// which field is wrong.
func bindJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if dec.More() {
			return adminhttp.Invalid("", "request body must hold one JSON object")
		}
		return nil
	}
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		return tooLarge(tooBig.Limit)
	case errors.Is(err, io.EOF):
		return adminhttp.Invalid("", "request body is empty: send a JSON object")
	case errors.As(err, &typeErr):
		return adminhttp.Invalid(typeErr.Field, fmt.Sprintf("%s must be a JSON %s", typeErr.Field, typeErr.Type.Kind()))
	case errors.As(err, &syntaxErr):
		return adminhttp.Invalid("", fmt.Sprintf("request body is not valid JSON (at byte %d)", syntaxErr.Offset))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return adminhttp.Invalid(field, fmt.Sprintf("unknown field %q", field))
	}
	return adminhttp.Invalid("", "request body is not valid JSON: "+err.Error())
}

// me answers who the caller is.
func (s *Server) me(c echo.Context) error {
	p, _ := adminhttp.PrincipalFrom(c)
	return c.JSON(http.StatusOK, sessionUser{ID: p.UserID, Username: p.Username, Role: string(p.Role)})
}

//go:embed openapi.yaml
var openAPIDocument []byte

// OpenAPIDocument returns the OpenAPI document served at
// /admin/api/v1/openapi.yaml.
func OpenAPIDocument() []byte { return append([]byte(nil), openAPIDocument...) }

func (s *Server) openAPI(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", s.openAPIDoc)
}
