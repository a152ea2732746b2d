package aliyunfake

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // HMAC-SHA1 is what the v1 signature is defined with.
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Signature facts as the service checks them.
const (
	v3Algorithm   = "ACS3-HMAC-SHA256"
	v1Method      = "HMAC-SHA1"
	v1Version     = "1.0"
	maxClockSkew  = 15 * time.Minute
	timestampForm = "2006-01-02T15:04:05Z"
)

// Signature styles, as recorded on SentMessage.SignedWith.
const (
	SignedV3 = "ACS3-HMAC-SHA256"
	SignedV1 = "HMAC-SHA1"
)

// authorization is a parsed v3 Authorization header.
type authorization struct {
	accessKeyID   string
	signedHeaders []string
	signature     string
}

// parseAuthorization reads "ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>".
func parseAuthorization(h string) (authorization, bool) {
	rest, ok := strings.CutPrefix(h, v3Algorithm+" ")
	if !ok {
		return authorization{}, false
	}
	var a authorization
	var haveCred, haveHeaders, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authorization{}, false
		}
		switch k {
		case "Credential":
			a.accessKeyID, haveCred = v, v != ""
		case "SignedHeaders":
			a.signedHeaders, haveHeaders = strings.Split(v, ";"), v != ""
		case "Signature":
			a.signature, haveSig = v, v != ""
		default:
			return authorization{}, false
		}
	}
	return a, haveCred && haveHeaders && haveSig
}

// verifyV3 checks an ACS3-HMAC-SHA256 request the way the gateway does:
// the Authorization header, the x-acs-* headers it needs, the date window,
// the AccessKeyId, the nonce and then the signature over the canonical
// request. It returns the AccessKeyId on success.
func (s *Server) verifyV3(r *http.Request, body []byte) (string, *apiError) {
	auth, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return "", gatewayError("IncompleteSignature",
			"The request signature does not conform to Aliyun standards: the Authorization header is not `ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...`.")
	}
	for _, h := range []string{"x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} {
		if r.Header.Get(h) == "" {
			return "", gatewayError("IncompleteSignature", fmt.Sprintf("The request signature does not conform to Aliyun standards: header %s is missing.", h))
		}
	}
	if apiErr := s.checkTimestamp(r.Header.Get("x-acs-date")); apiErr != nil {
		return "", apiErr
	}
	secret, ok := s.creds[auth.accessKeyID]
	if !ok {
		return "", gatewayError("InvalidAccessKeyId.NotFound", "")
	}
	signed := map[string]bool{}
	for _, h := range auth.signedHeaders {
		signed[h] = true
	}
	if !signed["host"] {
		return "", gatewayError("IncompleteSignature", "The request signature does not conform to Aliyun standards: host is not signed.")
	}
	for name := range r.Header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-acs-") && !signed[l] {
			return "", gatewayError("IncompleteSignature", fmt.Sprintf("The request signature does not conform to Aliyun standards: header %s is not signed.", l))
		}
	}
	if apiErr := s.useNonce(r.Header.Get("x-acs-signature-nonce")); apiErr != nil {
		return "", apiErr
	}
	stringToSign := v3Algorithm + "\n" + sha256Hex([]byte(canonicalRequest(r, auth.signedHeaders, body)))
	want := hex.EncodeToString(hmacSHA256([]byte(secret), stringToSign))
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		return "", gatewayError("SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:"+stringToSign)
	}
	return auth.accessKeyID, nil
}

// canonicalRequest builds the v3 canonical request over the headers the
// client said it signed, in the order it listed them (the SDK sorts them).
// The payload hash is computed from the body received, so a body that does
// not match x-acs-content-sha256 fails the signature.
func canonicalRequest(r *http.Request, signedHeaders []string, body []byte) string {
	var headers strings.Builder
	for _, name := range signedHeaders {
		var value string
		if name == "host" {
			value = r.Host
		} else {
			vals := append([]string(nil), r.Header.Values(name)...)
			for i := range vals {
				vals[i] = strings.TrimSpace(vals[i])
			}
			sort.Strings(vals)
			value = strings.Join(vals, ",")
		}
		headers.WriteString(name + ":" + strings.TrimSpace(value) + "\n")
	}
	uri := r.URL.EscapedPath()
	if uri == "" {
		uri = "/"
	}
	return strings.Join([]string{
		r.Method,
		uri,
		canonicalQuery(r.URL.Query()),
		headers.String(),
		strings.Join(signedHeaders, ";"),
		sha256Hex(body),
	}, "\n")
}

// canonicalQuery renders query parameters sorted by name, each
// name=percentEncode(value), an empty value as "name=".
func canonicalQuery(q url.Values) string {
	pairs := make([]string, 0, len(q))
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, percentEncode(k)+"="+percentEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// verifyV1 checks an RPC request signed with HMAC-SHA1 (signature version
// 1.0): the common parameters, the timestamp window, the AccessKeyId, the
// nonce and the signature over every parameter of the query and the form
// body. It returns the AccessKeyId on success.
func (s *Server) verifyV1(r *http.Request, params url.Values) (string, *apiError) {
	for _, p := range []string{"AccessKeyId", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp", "Version"} {
		if params.Get(p) == "" {
			return "", missing(p)
		}
	}
	if m := params.Get("SignatureMethod"); m != v1Method {
		return "", gatewayError("InvalidSignatureMethod", fmt.Sprintf("Specified signature method %q is not valid; use %s.", m, v1Method))
	}
	if v := params.Get("SignatureVersion"); v != v1Version {
		return "", gatewayError("InvalidSignatureVersion", fmt.Sprintf("Specified signature version %q is not valid; use %s.", v, v1Version))
	}
	if apiErr := s.checkTimestamp(params.Get("Timestamp")); apiErr != nil {
		return "", apiErr
	}
	id := params.Get("AccessKeyId")
	secret, ok := s.creds[id]
	if !ok {
		return "", gatewayError("InvalidAccessKeyId.NotFound", "")
	}
	if apiErr := s.useNonce(params.Get("SignatureNonce")); apiErr != nil {
		return "", apiErr
	}
	stringToSign := v1StringToSign(r.Method, params)
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	want := base64.StdEncoding.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(params.Get("Signature"))) {
		return "", gatewayError("SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:"+stringToSign)
	}
	return id, nil
}

// v1StringToSign is METHOD&%2F&percentEncode(sorted name=value pairs),
// over every parameter but Signature.
func v1StringToSign(method string, params url.Values) string {
	pairs := make([]string, 0, len(params))
	for k, vs := range params {
		if k == "Signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, percentEncode(k)+"="+percentEncode(v))
		}
	}
	sort.Strings(pairs)
	return method + "&" + percentEncode("/") + "&" + percentEncode(strings.Join(pairs, "&"))
}

// checkTimestamp accepts a UTC "yyyy-MM-ddTHH:mm:ssZ" within 15 minutes of
// the fake's clock.
func (s *Server) checkTimestamp(v string) *apiError {
	ts, err := time.Parse(timestampForm, v)
	if err != nil {
		return gatewayError("InvalidTimeStamp.Format", fmt.Sprintf("Specified time stamp or date value %q is not well formatted.", v))
	}
	if skew := s.now().Sub(ts); skew > maxClockSkew || skew < -maxClockSkew {
		return gatewayError("InvalidTimeStamp.Expired", "")
	}
	return nil
}

// useNonce refuses a nonce seen within the timestamp window.
func (s *Server) useNonce(nonce string) *apiError {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for n, at := range s.nonces {
		if now.Sub(at) > 2*maxClockSkew {
			delete(s.nonces, n)
		}
	}
	if _, used := s.nonces[nonce]; used {
		return gatewayError("SignatureNonceUsed", "")
	}
	s.nonces[nonce] = now
	return nil
}

// percentEncode is RFC 3986 encoding as Aliyun signs it: only A-Z a-z 0-9
// - _ . ~ stay as they are, a space is %20.
func percentEncode(v string) string {
	e := url.QueryEscape(v)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
