package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	commonpb "go.temporal.io/api/common/v1"
	"go.uber.org/zap"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/heraldhq/herald/internal/adminhttp"
)

// CodecPrefix is where the codec server lives, beside the admin API: a
// Temporal Web UI configured with codec endpoint <origin>/codec posts
// payloads to /codec/decode and /codec/encode.
const CodecPrefix = "/codec"

// CodecCookie holds a copy of the access token for the codec server. The
// Temporal Web UI calls the codec from the browser with the browser's
// cookies (its "include credentials" setting) and cannot send Herald's
// bearer token, so login and refresh set this cookie, scoped to
// CodecPrefix, and logout clears it. It lives as long as the access token.
const CodecCookie = "herald_codec"

// codecMaxBodyBytes caps a codec request: one workflow history page can
// carry several payloads of attachments, base64-encoded twice.
const codecMaxBodyBytes = 32 << 20

// The headers the Temporal Web UI sends to a codec server.
var codecAllowedHeaders = strings.Join([]string{echo.HeaderContentType, "X-Namespace", echo.HeaderAuthorization, "Authorization-Extras"}, ", ")

// isCodecPath reports whether a request path is the codec server's.
func isCodecPath(p string) bool { return p == CodecPrefix || strings.HasPrefix(p, CodecPrefix+"/") }

// codecCookie is scoped to the codec's path and, like the refresh cookie,
// Secure when the request came over TLS. SameSite Strict still lets a
// Temporal UI on the same site (another port or subdomain of the same
// domain) send it; a UI on another site cannot.
func (s *Server) codecCookie(c echo.Context, value string, maxAge int) *http.Cookie {
	ck := s.refreshCookie(c, value, maxAge)
	ck.Name = CodecCookie
	ck.Path = CodecPrefix
	return ck
}

// codecCORS answers the codec's preflight requests and marks its answers
// readable by the allowed Temporal UI origins, errors included, so that
// the UI can show why it was refused. Other paths pass through.
func (s *Server) codecCORS(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !isCodecPath(c.Request().URL.Path) {
			return next(c)
		}
		h := c.Response().Header()
		h.Add(echo.HeaderVary, echo.HeaderOrigin)
		origin := c.Request().Header.Get(echo.HeaderOrigin)
		allowed := origin != "" && slices.Contains(s.codecOrigins, origin)
		if allowed {
			h.Set(echo.HeaderAccessControlAllowOrigin, origin)
			h.Set(echo.HeaderAccessControlAllowCredentials, "true")
		}
		if c.Request().Method != http.MethodOptions {
			return next(c)
		}
		if !allowed {
			return adminhttp.Forbidden(fmt.Sprintf("origin %q may not call %s: set admin.temporal-ui-url to the Temporal UI's address or add the origin to admin.codec-origins", origin, CodecPrefix))
		}
		h.Set(echo.HeaderAccessControlAllowMethods, http.MethodPost)
		h.Set(echo.HeaderAccessControlAllowHeaders, codecAllowedHeaders)
		h.Set(echo.HeaderAccessControlMaxAge, "600")
		return c.NoContent(http.StatusNoContent)
	}
}

// codecOrigins normalises the configured origins, refusing anything that
// is not scheme://host[:port].
func codecOrigins(in []string) ([]string, error) {
	out := make([]string, 0, len(in))
	for _, o := range in {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("codec origin %q is not scheme://host[:port]", o)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out, nil
}

// codecDecode answers POST /codec/decode: the payloads opened.
func (s *Server) codecDecode(c echo.Context) error {
	return s.runCodec(c, "decode", s.codec.Decode)
}

// codecEncode answers POST /codec/encode: the payloads sealed, as the UI
// does for a signal it sends.
func (s *Server) codecEncode(c echo.Context) error {
	return s.runCodec(c, "encode", s.codec.Encode)
}

// runCodec reads {"payloads": [...]} in Temporal's JSON form, applies op
// and answers in the same form. It logs who asked, for which namespace and
// how many payloads, never what they hold.
func (s *Server) runCodec(c echo.Context, name string, op func([]*commonpb.Payload) ([]*commonpb.Payload, error)) error {
	body, err := io.ReadAll(c.Request().Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return tooLarge(tooBig.Limit)
	case err != nil:
		return adminhttp.Invalid("", "request body could not be read")
	}
	var in commonpb.Payloads
	if err := protojson.Unmarshal(body, &in); err != nil {
		return adminhttp.Invalid("payloads", `request body must be {"payloads": [{"metadata": {...}, "data": "<base64>"}]}: `+err.Error())
	}
	out, err := op(in.GetPayloads())
	if err != nil {
		return adminhttp.Invalid("payloads", fmt.Sprintf("cannot %s the payloads: %v", name, err))
	}
	p, _ := adminhttp.PrincipalFrom(c)
	s.log.Info("temporal payloads "+name+"d",
		zap.String("user", p.Username), zap.String("role", string(p.Role)),
		zap.String("namespace", c.Request().Header.Get("X-Namespace")),
		zap.Int("payloads", len(out)))
	answer, err := protojson.Marshal(&commonpb.Payloads{Payloads: out})
	if err != nil {
		return adminhttp.Internal("write payloads", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(answer)))
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, answer)
}
