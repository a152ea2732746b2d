package tencentfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signature facts of TC3-HMAC-SHA256 as the service checks them.
const (
	algorithm     = "TC3-HMAC-SHA256"
	service       = "sms"
	terminator    = "tc3_request"
	maxClockSkew  = 5 * time.Minute
	scopeDateForm = "2006-01-02"
)

// authFailure is a rejected signature: the code and message the service
// answers with.
type authFailure struct {
	code, message string
}

// authorization is a parsed Authorization header.
type authorization struct {
	secretID      string
	date          string
	service       string
	terminator    string
	signedHeaders []string
	signature     string
}

func parseAuthorization(h string) (authorization, bool) {
	rest, ok := strings.CutPrefix(h, algorithm+" ")
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
			fields := strings.Split(v, "/")
			if len(fields) != 4 || fields[0] == "" {
				return authorization{}, false
			}
			a.secretID, a.date, a.service, a.terminator = fields[0], fields[1], fields[2], fields[3]
			haveCred = true
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
			haveHeaders = v != ""
		case "Signature":
			a.signature = v
			haveSig = v != ""
		default:
			return authorization{}, false
		}
	}
	return a, haveCred && haveHeaders && haveSig
}

// verifySignature checks a request the way the service does: the
// Authorization header, the timestamp window, the SecretId, the credential
// scope date and then the signature over the canonical request.
func verifySignature(r *http.Request, body []byte, now time.Time, secretKey func(id string) (string, bool)) *authFailure {
	auth, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return &authFailure{"AuthFailure.InvalidAuthorization",
			"The Authorization header is not of the form `TC3-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."}
	}
	tsHeader := r.Header.Get("X-TC-Timestamp")
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return &authFailure{"AuthFailure.InvalidAuthorization", fmt.Sprintf("X-TC-Timestamp %q is not a unix time in seconds.", tsHeader)}
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > maxClockSkew || skew < -maxClockSkew {
		return &authFailure{"AuthFailure.SignatureExpire",
			fmt.Sprintf("Signature expired: Timestamp %d is more than 5 minutes from server time %d.", ts, now.Unix())}
	}
	key, ok := secretKey(auth.secretID)
	if !ok {
		return &authFailure{"AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct."}
	}
	if want := time.Unix(ts, 0).UTC().Format(scopeDateForm); auth.date != want {
		return &authFailure{"AuthFailure.SignatureFailure",
			fmt.Sprintf("The credential scope date %q is not the UTC date of X-TC-Timestamp (%s).", auth.date, want)}
	}
	if auth.service != service || auth.terminator != terminator {
		return &authFailure{"AuthFailure.SignatureFailure",
			fmt.Sprintf("The credential scope must end in /%s/%s.", service, terminator)}
	}
	signed := map[string]bool{}
	for _, h := range auth.signedHeaders {
		signed[h] = true
	}
	if !signed["content-type"] || !signed["host"] {
		return &authFailure{"AuthFailure.InvalidAuthorization", "SignedHeaders must include content-type and host."}
	}
	want := signature(key, auth.date, tsHeader, canonicalRequest(r, auth.signedHeaders, body))
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		return &authFailure{"AuthFailure.SignatureFailure",
			"The provided credentials could not be validated. Please check your signature is correct."}
	}
	return nil
}

// canonicalRequest builds the canonical request over the headers the client
// said it signed, in the order it listed them (the SDK lists them sorted).
// Header names and values are lowercased and trimmed.
func canonicalRequest(r *http.Request, signedHeaders []string, body []byte) string {
	var headers strings.Builder
	for _, name := range signedHeaders {
		value := r.Header.Get(name)
		if name == "host" {
			value = r.Host
		}
		headers.WriteString(name + ":" + strings.ToLower(strings.TrimSpace(value)) + "\n")
	}
	uri := r.URL.Path
	if uri == "" {
		uri = "/"
	}
	return strings.Join([]string{
		r.Method,
		uri,
		canonicalQuery(r),
		headers.String(),
		strings.Join(signedHeaders, ";"),
		sha256Hex(body),
	}, "\n")
}

// canonicalQuery is empty for POST; for GET it is the query string with
// keys sorted, which is what the SDK produces.
func canonicalQuery(r *http.Request) string {
	if r.Method != http.MethodGet || r.URL.RawQuery == "" {
		return ""
	}
	pairs := strings.Split(r.URL.RawQuery, "&")
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// signature derives the signing key from the secret key and date and signs
// the string-to-sign built from the canonical request.
func signature(secretKey, date, timestamp, canonical string) string {
	scope := date + "/" + service + "/" + terminator
	stringToSign := algorithm + "\n" + timestamp + "\n" + scope + "\n" + sha256Hex([]byte(canonical))
	kDate := hmacSHA256([]byte("TC3"+secretKey), date)
	kService := hmacSHA256(kDate, service)
	kSigning := hmacSHA256(kService, terminator)
	return hex.EncodeToString(hmacSHA256(kSigning, stringToSign))
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
