// Package signing implements the request signature of the /api/v1 wire
// contract, shared by the server (package api) and the Go client (package
// apiclient) so both always agree on the bytes that are signed.
//
// A request is signed with
//
//	hex(HMAC-SHA256(secret, METHOD + path + canonicalParams + timestamp + nonce))
//
// where canonicalParams is "" for a request without a JSON body and otherwise
// the body re-serialised with sorted keys and no whitespace. The clients in
// the field produce that serialisation in two dialects (see GoCanonical and
// PHPCanonical); a server accepts a signature made over either.
package signing

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Sign returns the lowercase hex HMAC-SHA256 signature of one request.
func Sign(secret, method, path, canonicalParams, timestamp, nonce string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	// hash.Hash writes never fail.
	_, _ = io.WriteString(mac, strings.ToUpper(method))
	_, _ = io.WriteString(mac, path)
	_, _ = io.WriteString(mac, canonicalParams)
	_, _ = io.WriteString(mac, timestamp)
	_, _ = io.WriteString(mac, nonce)
	return hex.EncodeToString(mac.Sum(nil))
}

// Equal compares two hex signatures in constant time. Case is ignored so
// that an upper-case hex signature is not rejected for its spelling alone.
func Equal(got, want string) bool {
	return hmac.Equal([]byte(strings.ToLower(got)), []byte(strings.ToLower(want)))
}

// HasBody reports whether body counts as a JSON body for signing: an empty
// or all-whitespace body signs as "".
func HasBody(body []byte) bool { return len(bytes.TrimSpace(body)) > 0 }

// SyntaxError reports where a body stops being valid JSON.
type SyntaxError struct {
	// Offset is the byte offset at which the problem was found.
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at byte offset %d: %s", e.Offset, e.Msg)
}

// Decode parses body as exactly one JSON value, keeping numbers as written.
// Objects become map[string]any, arrays []any. A body that is not valid JSON
// yields a *SyntaxError.
func Decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, asSyntaxError(err, dec.InputOffset())
	}
	// Anything but whitespace after the value is an error too.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &SyntaxError{Offset: dec.InputOffset(), Msg: "unexpected data after the top-level value"}
	}
	return v, nil
}

func asSyntaxError(err error, offset int64) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &SyntaxError{Offset: se.Offset, Msg: se.Error()}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &SyntaxError{Offset: offset, Msg: "unexpected end of JSON input"}
	}
	return &SyntaxError{Offset: offset, Msg: err.Error()}
}

// GoCanonical is the canonical params string as the Go client library makes
// it: encoding/json of the body decoded into interface values, which sorts
// object keys, turns every number into a float64 and escapes <, > and & as
// \u003c, \u003e and \u0026 while keeping other non-ASCII text as UTF-8.
// A body without content yields "".
func GoCanonical(body []byte) (string, error) {
	if !HasBody(body) {
		return "", nil
	}
	v, err := Decode(body)
	if err != nil {
		return "", err
	}
	return goCanonicalValue(v)
}

func goCanonicalValue(v any) (string, error) {
	f, err := toFloatNumbers(v)
	if err != nil {
		return "", err
	}
	out, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("encode canonical params: %w", err)
	}
	return string(out), nil
}

// toFloatNumbers converts json.Number leaves to float64, as a plain
// json.Unmarshal into interface values would have produced them.
func toFloatNumbers(v any) (any, error) {
	switch t := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(t), 64)
		if err != nil {
			// Out of float64 range: encoding/json would have refused too.
			return nil, fmt.Errorf("number %s: %w", t, err)
		}
		return f, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			c, err := toFloatNumbers(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			c, err := toFloatNumbers(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	}
	return v, nil
}

// PHPCanonical is the canonical params string as the PHP client library makes
// it: keys sorted recursively (ksort), then json_encode with
// JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES, so <, >, & and / stay
// literal. Integers keep the digits they were written with; other numbers
// are printed the way PHP prints a float.
//
// PHP holds every object as an array, so keys that look like integers are
// integers (ordered numerically) and an object whose keys are exactly 0..n-1
// encodes as a JSON list. With emptyObjectAsArray an empty object encodes as
// [] — what a PHP array that started life as {} turns into.
func PHPCanonical(body []byte, emptyObjectAsArray bool) (string, error) {
	if !HasBody(body) {
		return "", nil
	}
	v, err := Decode(body)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	writePHP(&b, v, emptyObjectAsArray)
	return b.String(), nil
}

// Candidates returns every canonical params string a legitimate client could
// have signed for body: the Go form, the PHP form and, when the body holds an
// empty object, the PHP form with that object written as []. Duplicates are
// dropped. A body without content yields [""].
func Candidates(body []byte) ([]string, error) {
	if !HasBody(body) {
		return []string{""}, nil
	}
	v, err := Decode(body)
	if err != nil {
		return nil, err
	}
	goForm, err := goCanonicalValue(v)
	if err != nil {
		// Only a number beyond float64 range fails here; the Go client
		// cannot have produced such a body, so the PHP forms remain.
		goForm = ""
	}
	var b strings.Builder
	writePHP(&b, v, false)
	out := make([]string, 0, 3)
	if goForm != "" {
		out = append(out, goForm)
	}
	if php := b.String(); php != goForm {
		out = append(out, php)
	}
	if hasEmptyObject(v) {
		b.Reset()
		writePHP(&b, v, true)
		out = append(out, b.String())
	}
	return out, nil
}

func hasEmptyObject(v any) bool {
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 {
			return true
		}
		for _, e := range t {
			if hasEmptyObject(e) {
				return true
			}
		}
	case []any:
		for _, e := range t {
			if hasEmptyObject(e) {
				return true
			}
		}
	}
	return false
}

func writePHP(b *strings.Builder, v any, emptyObjectAsArray bool) {
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(phpNumber(string(t)))
	case string:
		writePHPString(b, t)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			writePHP(b, e, emptyObjectAsArray)
		}
		b.WriteByte(']')
	case map[string]any:
		writePHPObject(b, t, emptyObjectAsArray)
	}
}

type phpKey struct {
	raw   string
	isInt bool
	n     int64
}

func writePHPObject(b *strings.Builder, m map[string]any, emptyObjectAsArray bool) {
	if len(m) == 0 {
		if emptyObjectAsArray {
			b.WriteString("[]")
		} else {
			b.WriteString("{}")
		}
		return
	}
	keys := make([]phpKey, 0, len(m))
	for k := range m {
		n, ok := phpIntKey(k)
		keys = append(keys, phpKey{raw: k, isInt: ok, n: n})
	}
	sort.SliceStable(keys, func(i, j int) bool { return phpKeyLess(keys[i], keys[j]) })

	// An array with keys 0..n-1 in order is a list to json_encode.
	list := true
	for i, k := range keys {
		if !k.isInt || k.n != int64(i) {
			list = false
			break
		}
	}
	if list {
		b.WriteByte('[')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writePHP(b, m[k.raw], emptyObjectAsArray)
		}
		b.WriteByte(']')
		return
	}
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writePHPString(b, k.raw)
		b.WriteByte(':')
		writePHP(b, m[k.raw], emptyObjectAsArray)
	}
	b.WriteByte('}')
}

// phpIntKey reports whether PHP would store array key k as an integer: a
// decimal integer without leading zeros or plus sign that fits int64.
func phpIntKey(k string) (int64, bool) {
	if k == "" || k == "-0" {
		return 0, false
	}
	digits := strings.TrimPrefix(k, "-")
	if digits == "" || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(k, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// phpKeyLess orders keys like PHP 8's ksort with SORT_REGULAR: integers
// numerically, strings byte-wise, and an integer against a string by its
// decimal text.
func phpKeyLess(a, b phpKey) bool {
	if a.isInt && b.isInt {
		return a.n < b.n
	}
	return a.raw < b.raw
}

// phpNumber prints a JSON number the way json_encode(json_decode(n)) would:
// integers that fit int64 as they are, everything else as a PHP float with
// serialize_precision -1 (shortest round-trip digits).
func phpNumber(n string) string {
	if !strings.ContainsAny(n, ".eE") {
		if i, err := strconv.ParseInt(n, 10, 64); err == nil {
			return strconv.FormatInt(i, 10)
		}
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		// json_encode fails on these; keep the text so the request at
		// least has a stable canonical form.
		return n
	}
	return phpFloat(f)
}

// phpFloat mirrors php_gcvt in mode 0 (serialize_precision -1): the shortest
// round-trip digits, in fixed notation unless the decimal exponent is below
// -4 or above 16, then as "d.ddde+X"; an integral value prints without a
// fraction because the PHP client does not ask for
// JSON_PRESERVE_ZERO_FRACTION.
func phpFloat(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	// Shortest digits and exponent, e.g. "1.2345e+03".
	e := strconv.FormatFloat(f, 'e', -1, 64)
	neg := strings.HasPrefix(e, "-")
	e = strings.TrimPrefix(e, "-")
	mant, expText, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	exp, _ := strconv.Atoi(expText)
	decpt := exp + 1 // position of the decimal point relative to digits

	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if decpt < -3 || decpt > 17 {
		b.WriteByte(digits[0])
		b.WriteByte('.')
		if len(digits) > 1 {
			b.WriteString(digits[1:])
		} else {
			b.WriteByte('0')
		}
		b.WriteByte('e')
		if exp < 0 {
			b.WriteByte('-')
			exp = -exp
		} else {
			b.WriteByte('+')
		}
		b.WriteString(strconv.Itoa(exp))
		return b.String()
	}
	if decpt <= 0 {
		b.WriteString("0.")
		b.WriteString(strings.Repeat("0", -decpt))
		b.WriteString(digits)
		return b.String()
	}
	if len(digits) <= decpt {
		b.WriteString(digits)
		b.WriteString(strings.Repeat("0", decpt-len(digits)))
		return b.String()
	}
	b.WriteString(digits[:decpt])
	b.WriteByte('.')
	b.WriteString(digits[decpt:])
	return b.String()
}

// writePHPString writes s as json_encode does with unescaped unicode and
// slashes: only the quote, the backslash, control characters and the two
// line terminators U+2028 and U+2029 are escaped.
func writePHPString(b *strings.Builder, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch c {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\b':
				b.WriteString(`\b`)
			case '\f':
				b.WriteString(`\f`)
			case '\n':
				b.WriteString(`\n`)
			case '\r':
				b.WriteString(`\r`)
			case '\t':
				b.WriteString(`\t`)
			default:
				if c < 0x20 {
					b.WriteString(`\u00`)
					b.WriteByte(hexDigits[c>>4])
					b.WriteByte(hexDigits[c&0xf])
				} else {
					b.WriteByte(c)
				}
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\u2028':
			b.WriteString(`\u2028`)
		case '\u2029':
			b.WriteString(`\u2029`)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}
