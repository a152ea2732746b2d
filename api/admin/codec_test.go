package admin

import (
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/internal/payloadcodec"
	"github.com/heraldhq/herald/store"
)

const testUIOrigin = "http://127.0.0.1:8233"

// setupCodec is a server with a codec for the Temporal UI at
// testUIOrigin.
func setupCodec(t *testing.T) (*harness, *payloadcodec.Codec) {
	t.Helper()
	key := make([]byte, store.MasterKeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	codec, err := payloadcodec.New(key)
	require.NoError(t, err)
	h := setupDeps(t, store.DialectSQLite, Config{CodecOrigins: []string{testUIOrigin + "/"}}, Deps{Codec: codec})
	return h, codec
}

// codecBody is a codec request body of payloads, in Temporal's JSON form.
func codecBody(t *testing.T, payloads []*commonpb.Payload) string {
	t.Helper()
	raw, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	require.NoError(t, err)
	return string(raw)
}

func codecPayloads(t *testing.T, r response) []*commonpb.Payload {
	t.Helper()
	var out commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(r.Body.Bytes(), &out), r.Body.String())
	return out.GetPayloads()
}

func cookieOf(t *testing.T, r response, name string) *http.Cookie {
	t.Helper()
	for _, c := range r.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s cookie in %v", name, r.Header())
	return nil
}

func TestCodecServer(t *testing.T) {
	t.Parallel()
	h, codec := setupCodec(t)
	for name, role := range map[string]adminhttp.Role{"root": adminhttp.RoleAdmin, "ops": adminhttp.RoleOperator, "eyes": adminhttp.RoleViewer} {
		h.addUser(name, role)
	}
	plain, err := converter.GetDefaultDataConverter().ToPayloads(map[string]string{"receiver": "+8613800138000"}, "Your code is 123456")
	require.NoError(t, err)
	sealed, err := codec.Encode(plain.GetPayloads())
	require.NoError(t, err)
	decodeReq := func(mod func(*request)) response {
		r := request{method: http.MethodPost, rawPath: CodecPrefix + "/decode", body: codecBody(t, sealed),
			header: map[string]string{"Origin": testUIOrigin, "X-Namespace": "default"}}
		mod(&r)
		return h.do(r)
	}
	requireDecoded := func(t *testing.T, r response) {
		t.Helper()
		require.Equal(t, http.StatusOK, r.Code, r.Body.String())
		got := codecPayloads(t, r)
		require.Len(t, got, len(plain.GetPayloads()))
		for i, p := range plain.GetPayloads() {
			require.True(t, proto.Equal(p, got[i]), "payload %d", i)
		}
		require.Equal(t, testUIOrigin, r.Header().Get("Access-Control-Allow-Origin"))
		require.Equal(t, "true", r.Header().Get("Access-Control-Allow-Credentials"))
		require.Equal(t, "no-store", r.Header().Get("Cache-Control"))
	}

	t.Run("OperatorByCookie", func(t *testing.T) {
		t.Parallel()
		login := h.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": "ops-password-1"}})
		require.Equal(t, http.StatusOK, login.Code, login.Body.String())
		ck := cookieOf(t, login, CodecCookie)
		require.Equal(t, CodecPrefix, ck.Path)
		require.True(t, ck.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
		require.Equal(t, int(DefaultAccessTokenTTL.Seconds()), ck.MaxAge, "lives as long as the access token")
		requireDecoded(t, decodeReq(func(r *request) { r.cookies = []*http.Cookie{{Name: CodecCookie, Value: ck.Value}} }))

		// Refresh renews it; logout clears it.
		refresh := h.do(request{method: http.MethodPost, path: "/auth/refresh", cookies: []*http.Cookie{cookieOf(t, login, RefreshCookie)}})
		require.Equal(t, http.StatusOK, refresh.Code, refresh.Body.String())
		renewed := cookieOf(t, refresh, CodecCookie)
		require.NotEqual(t, ck.Value, renewed.Value)
		requireDecoded(t, decodeReq(func(r *request) { r.cookies = []*http.Cookie{{Name: CodecCookie, Value: renewed.Value}} }))
		out := h.do(request{method: http.MethodPost, path: "/auth/logout", cookies: []*http.Cookie{cookieOf(t, refresh, RefreshCookie)}})
		require.Equal(t, http.StatusNoContent, out.Code)
		cleared := cookieOf(t, out, CodecCookie)
		require.Equal(t, -1, cleared.MaxAge)
		require.Equal(t, CodecPrefix, cleared.Path)
	})

	t.Run("BodyDeliverySetsNoCookie", func(t *testing.T) {
		t.Parallel()
		s := h.login("ops")
		require.NotEmpty(t, s.AccessToken)
		resp := h.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": "ops-password-1", "token_delivery": "body"}})
		for _, c := range resp.Result().Cookies() {
			require.NotEqual(t, CodecCookie, c.Name)
		}
	})

	t.Run("AdminByBearer", func(t *testing.T) {
		t.Parallel()
		tok := h.login("root").AccessToken
		requireDecoded(t, decodeReq(func(r *request) { r.token = tok }))
	})

	t.Run("Encode", func(t *testing.T) {
		t.Parallel()
		tok := h.login("ops").AccessToken
		resp := h.do(request{method: http.MethodPost, rawPath: CodecPrefix + "/encode", body: codecBody(t, plain.GetPayloads()), token: tok})
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		enc := codecPayloads(t, resp)
		for _, p := range enc {
			require.True(t, payloadcodec.IsEncrypted(p))
		}
		back, err := codec.Decode(enc)
		require.NoError(t, err)
		require.True(t, proto.Equal(plain.GetPayloads()[1], back[1]))
	})

	t.Run("ViewerForbidden", func(t *testing.T) {
		t.Parallel()
		tok := h.login("eyes").AccessToken
		resp := decodeReq(func(r *request) { r.token = tok })
		require.Equal(t, http.StatusForbidden, resp.Code)
		require.Equal(t, adminhttp.CodeForbidden, resp.problem(t).Code)
		require.NotContains(t, resp.Body.String(), "8613800138000")
		require.Equal(t, testUIOrigin, resp.Header().Get("Access-Control-Allow-Origin"), "the UI can read why")
	})

	t.Run("AnonymousUnauthorized", func(t *testing.T) {
		t.Parallel()
		resp := decodeReq(func(*request) {})
		require.Equal(t, http.StatusUnauthorized, resp.Code)
		p := resp.problem(t)
		require.Equal(t, adminhttp.CodeUnauthorized, p.Code)
		require.Contains(t, p.Message, CodecCookie)
		require.Equal(t, testUIOrigin, resp.Header().Get("Access-Control-Allow-Origin"))

		bogus := decodeReq(func(r *request) { r.cookies = []*http.Cookie{{Name: CodecCookie, Value: "not-a-token"}} })
		require.Equal(t, http.StatusUnauthorized, bogus.Code)
	})

	t.Run("ExpiredCookie", func(t *testing.T) {
		// Not parallel with the others: it moves the shared clock.
		hh, _ := setupCodec(t)
		hh.addUser("ops", adminhttp.RoleOperator)
		login := hh.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": "ops-password-1"}})
		ck := cookieOf(t, login, CodecCookie)
		hh.clock.Advance(DefaultAccessTokenTTL + time.Second)
		resp := hh.do(request{method: http.MethodPost, rawPath: CodecPrefix + "/decode", body: codecBody(t, sealed), cookies: []*http.Cookie{{Name: CodecCookie, Value: ck.Value}}})
		require.Equal(t, http.StatusUnauthorized, resp.Code)
	})

	t.Run("Preflight", func(t *testing.T) {
		t.Parallel()
		resp := h.do(request{method: http.MethodOptions, rawPath: CodecPrefix + "/decode", header: map[string]string{
			"Origin": testUIOrigin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace",
		}})
		require.Equal(t, http.StatusNoContent, resp.Code, resp.Body.String())
		require.Equal(t, testUIOrigin, resp.Header().Get("Access-Control-Allow-Origin"))
		require.Equal(t, "true", resp.Header().Get("Access-Control-Allow-Credentials"))
		require.Contains(t, resp.Header().Get("Access-Control-Allow-Methods"), "POST")
		allowed := strings.ToLower(resp.Header().Get("Access-Control-Allow-Headers"))
		for _, hdr := range []string{"content-type", "x-namespace", "authorization"} {
			require.Contains(t, allowed, hdr)
		}

		other := h.do(request{method: http.MethodOptions, rawPath: CodecPrefix + "/decode", header: map[string]string{
			"Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
		}})
		require.Equal(t, http.StatusForbidden, other.Code)
		require.Empty(t, other.Header().Get("Access-Control-Allow-Origin"))
		require.Contains(t, other.problem(t).Message, "admin.codec-origins")

		// A signed-in request from another origin is answered, but
		// without CORS headers the browser keeps the answer from the page.
		tok := h.login("ops").AccessToken
		cross := decodeReq(func(r *request) { r.token = tok; r.header["Origin"] = "https://evil.example" })
		require.Equal(t, http.StatusOK, cross.Code)
		require.Empty(t, cross.Header().Get("Access-Control-Allow-Origin"))
	})

	t.Run("BadInput", func(t *testing.T) {
		t.Parallel()
		tok := h.login("ops").AccessToken
		bad := h.do(request{method: http.MethodPost, rawPath: CodecPrefix + "/decode", body: `{"payloads": "nope"}`, token: tok})
		require.Equal(t, http.StatusBadRequest, bad.Code)
		require.Equal(t, "payloads", bad.problem(t).Field)

		otherKey := make([]byte, store.MasterKeySize)
		_, err := rand.Read(otherKey)
		require.NoError(t, err)
		otherCodec, err := payloadcodec.New(otherKey)
		require.NoError(t, err)
		foreign, err := otherCodec.Encode(plain.GetPayloads())
		require.NoError(t, err)
		unknown := h.do(request{method: http.MethodPost, rawPath: CodecPrefix + "/decode", body: codecBody(t, foreign), token: tok})
		require.Equal(t, http.StatusBadRequest, unknown.Code)
		require.Contains(t, unknown.problem(t).Message, "unknown key")

		get := h.do(request{method: http.MethodGet, rawPath: CodecPrefix + "/decode", token: tok})
		require.Equal(t, http.StatusMethodNotAllowed, get.Code)
	})

	t.Run("PlainPayloadsPassThrough", func(t *testing.T) {
		t.Parallel()
		tok := h.login("ops").AccessToken
		resp := h.do(request{method: http.MethodPost, rawPath: CodecPrefix + "/decode", body: codecBody(t, plain.GetPayloads()), token: tok})
		require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
		got := codecPayloads(t, resp)
		require.True(t, proto.Equal(plain.GetPayloads()[0], got[0]))
	})
}

func TestCodecOff(t *testing.T) {
	t.Parallel()
	h := setup(t, store.DialectSQLite, Config{}, nil)
	h.addUser("ops", adminhttp.RoleOperator)
	login := h.do(request{method: http.MethodPost, path: "/auth/login", body: map[string]string{"username": "ops", "password": "ops-password-1"}})
	for _, c := range login.Result().Cookies() {
		require.NotEqual(t, CodecCookie, c.Name, "no codec, no cookie for it")
	}
	tok := h.login("ops").AccessToken
	resp := h.do(request{method: http.MethodPost, rawPath: CodecPrefix + "/decode", body: `{"payloads":[]}`, token: tok})
	require.Equal(t, http.StatusNotFound, resp.Code)
}

func TestCodecOriginsConfig(t *testing.T) {
	t.Parallel()
	err := Config{MasterKey: make([]byte, store.MasterKeySize), CodecOrigins: []string{"https://ui.example.com/path"}}.Validate()
	require.ErrorContains(t, err, "CodecOrigins")
}
