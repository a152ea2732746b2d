package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/api/internal/signing"
)

// fields is a JSON object whose members are decoded one at a time, so a type
// error can name the member it is about.
type fields map[string]json.RawMessage

// parseObject decodes a request body that must be a JSON object. An empty
// body is an empty object, so the first missing member is reported.
func parseObject(body []byte) (fields, error) {
	if !signing.HasBody(body) {
		return fields{}, nil
	}
	v, err := signing.Decode(body)
	if err != nil {
		var se *signing.SyntaxError
		if errors.As(err, &se) {
			return nil, NewError(http.StatusBadRequest, CodeMalformedJSON, "%s", se.Error())
		}
		return nil, errInvalidParams("request body: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errInvalidParams("request body must be a JSON object")
	}
	f := fields{}
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, errInvalidParams("request body: %v", err)
	}
	return f, nil
}

// has reports whether name is present and not null.
func (f fields) has(name string) bool {
	raw, ok := f[name]
	return ok && !isNull(raw)
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// str returns a string member; absent and null read as "".
func (f fields) str(name string) (string, error) {
	if !f.has(name) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(f[name], &s); err != nil {
		return "", errInvalidParams("%s must be a string", name)
	}
	return s, nil
}

// requiredStr returns a string member that must be present and non-empty.
func (f fields) requiredStr(name string) (string, error) {
	if !f.has(name) {
		return "", errMissing(name)
	}
	s, err := f.str(name)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", errMissing(name)
	}
	return s, nil
}

// id returns a required positive integer member. A decimal string is
// accepted too, because form-minded clients send ids as strings.
func (f fields) id(name string) (int64, error) {
	if !f.has(name) {
		return 0, errMissing(name)
	}
	raw := bytes.TrimSpace(f[name])
	text := string(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if err := json.Unmarshal(raw, &text); err != nil {
			return 0, errInvalidParams("%s must be an integer", name)
		}
		text = strings.TrimSpace(text)
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, errInvalidParams("%s must be an integer", name)
	}
	return n, nil
}

// templateParams reads template_params: an object whose values are strings.
// Numbers and booleans are accepted and kept as their JSON text ("42",
// "true") because loosely typed clients send them; null, objects and arrays
// are refused. An empty JSON array is an empty object: that is how a PHP
// client encodes an empty parameter list.
func (f fields) templateParams() (map[string]string, error) {
	const name = "template_params"
	out := map[string]string{}
	if !f.has(name) {
		return out, nil
	}
	raw := bytes.TrimSpace(f[name])
	if bytes.Equal(raw, []byte("[]")) {
		return out, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, errInvalidParams("%s must be an object of strings", name)
	}
	for k, v := range members {
		s, err := paramValue(v)
		if err != nil {
			return nil, errInvalidParams("%s.%s must be a string", name, k)
		}
		out[k] = s
	}
	return out, nil
}

func paramValue(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("empty")
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case c == 't' || c == 'f':
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case c == '-' || (c >= '0' && c <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", err
		}
		return n.String(), nil
	}
	return "", errors.New("not a scalar")
}

// pathParam returns a path parameter decoded: Echo routes on the path as
// sent, so a percent-encoded segment reaches handlers still encoded.
func pathParam(c echo.Context, name string) string {
	raw := c.Param(name)
	if v, err := url.PathUnescape(raw); err == nil {
		return v
	}
	return raw
}

// maxIdempotencyKeyLen bounds the Idempotency-Key header.
const maxIdempotencyKeyLen = 255

// idempotencyKey returns the request's Idempotency-Key, "" when absent.
func idempotencyKey(c echo.Context) (string, error) {
	key := c.Request().Header.Get(HeaderIdempotencyKey)
	if key == "" {
		return "", nil
	}
	ok := len(key) <= maxIdempotencyKeyLen
	for i := 0; ok && i < len(key); i++ {
		ok = key[i] >= 0x20 && key[i] <= 0x7e
	}
	if !ok {
		return "", errInvalidValue("%s must be at most %d printable ASCII characters", HeaderIdempotencyKey, maxIdempotencyKeyLen)
	}
	return key, nil
}

// requestHash identifies a request for idempotency: the endpoint and the
// canonical form of its body, so key order and whitespace do not matter.
func requestHash(endpoint string, body []byte) string {
	canon, err := signing.GoCanonical(body)
	if err != nil {
		canon = string(body)
	}
	sum := sha256.Sum256([]byte(endpoint + "\n" + canon))
	return hex.EncodeToString(sum[:])
}

func errIdempotencyMismatch(key string) *Error {
	return NewError(http.StatusConflict, CodeInvalidValue, "%s %q was used with a different request", HeaderIdempotencyKey, key)
}

// quoteList renders names for a message: [a, b].
func quoteList(names []string) string { return fmt.Sprintf("[%s]", strings.Join(names, ", ")) }
