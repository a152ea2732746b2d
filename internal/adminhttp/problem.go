package adminhttp

import (
	"errors"
	"fmt"
	"net/http"
)

// Codes of admin API errors, in the "code" field of every error body.
const (
	CodeInvalid      = "invalid_input"  // 400: a field is missing or wrong; Field names it
	CodeUnauthorized = "unauthorized"   // 401: no, a bad or an expired access token
	CodeForbidden    = "forbidden"      // 403: the role may not do this
	CodeNotFound     = "not_found"      // 404
	CodeConflict     = "conflict"       // 409: a stale version, or a name taken
	CodeRateLimited  = "rate_limited"   // 429: too many failed logins
	CodeInternal     = "internal_error" // 500
	CodeUnavailable  = "unavailable"    // 503: a dependency is down
)

// Problem is the admin API's one error type. Handlers return it; the admin
// server's error handler writes it as
//
//	{"code": "...", "message": "...", "field": "..."}
//
// Message is shown to the caller and must say what to fix; Err is the
// internal cause, logged and never shown.
type Problem struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the offending input field (JSON path or query parameter)
	// of a 400.
	Field string `json:"field,omitempty"`
	// RetryAfterSeconds, when positive, is also sent as Retry-After.
	RetryAfterSeconds int   `json:"retry_after_seconds,omitempty"`
	Err               error `json:"-"`
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Message)
	if p.Field != "" {
		s += " (field " + p.Field + ")"
	}
	if p.Err != nil {
		s += ": " + p.Err.Error()
	}
	return s
}

func (p *Problem) Unwrap() error { return p.Err }

// Invalid is a 400 about one field.
func Invalid(field, message string) *Problem {
	return &Problem{Status: http.StatusBadRequest, Code: CodeInvalid, Field: field, Message: message}
}

// Unauthorized is a 401.
func Unauthorized(message string) *Problem {
	return &Problem{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: message}
}

// Forbidden is a 403.
func Forbidden(message string) *Problem {
	return &Problem{Status: http.StatusForbidden, Code: CodeForbidden, Message: message}
}

// NotFound is a 404 for one object.
func NotFound(what, id string) *Problem {
	return &Problem{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("%s %s not found", what, id)}
}

// Conflict is a 409.
func Conflict(message string) *Problem {
	return &Problem{Status: http.StatusConflict, Code: CodeConflict, Message: message}
}

// Internal is a 500 whose cause is logged, not shown.
func Internal(what string, err error) *Problem {
	return &Problem{Status: http.StatusInternalServerError, Code: CodeInternal, Message: what + " failed", Err: err}
}

// AsProblem returns the *Problem in err's chain, if any.
func AsProblem(err error) (*Problem, bool) {
	var p *Problem
	ok := errors.As(err, &p)
	return p, ok
}
