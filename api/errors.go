package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/api/serviceerror"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/store"
)

// Wire codes of the /api/v1 contract. 0 is success; the rest travel in the
// envelope's "code" field next to a proper HTTP status.
const (
	CodeOK = 0

	CodeInvalidParams    = 10001 // invalid parameters (wrong type, bad body, unknown endpoint)
	CodeMalformedJSON    = 10002 // body is not JSON
	CodeMissingParam     = 10003 // a required parameter is absent
	CodeInvalidValue     = 10004 // a parameter has a value that is not allowed
	CodeInvalidReceiver  = 10005 // receiver invalid, opted out, or in a country the channel does not reach
	CodeTemplateParams   = 10006 // template variable missing or unknown
	CodeUnauthorized     = 20001 // authentication headers missing or malformed
	CodeUnknownApp       = 20002 // X-App-Id names no app
	CodeBadSignature     = 20003 // X-Signature does not verify
	CodeBadTimestamp     = 20004 // X-Timestamp unparsable or outside the window
	CodeIPNotAllowed     = 20005 // client IP not in the app's allowlist
	CodeAppDisabled      = 20006 // the app is disabled
	CodeNonceReused      = 20007 // X-Nonce already seen inside the window
	CodeRateLimited      = 30001 // per-app request or message rate exceeded, or a receiver cap reached
	CodeQuotaExceeded    = 30002 // quota exceeded (reserved)
	CodeChannelNotFound  = 30003 // no such channel
	CodeChannelDisabled  = 30004 // channel disabled
	CodeTemplateNotFound = 30005 // channel has no usable template
	CodeNoProvider       = 30006 // no enabled provider account in the channel's pool
	CodeTaskNotFound     = 30007 // no such task for this app
	CodeBatchNotFound    = 30008 // no such batch for this app
	CodeInternal         = 40001 // internal error, or a dependency down (health)
	CodeDatabase         = 40002 // database error (503 when unreachable)
	CodeCache            = 40003 // Redis error (503 when unreachable)
	CodeEngine           = 40004 // workflow engine error (503 when unreachable)
	CodeProvider         = 40005 // provider error (reserved)
	CodeTimeout          = 40006 // network timeout
	CodeCircuitOpen      = 40007 // circuit open (reserved)
)

// Error is the one application error type. Handlers return it; the server's
// error handler turns it into the response envelope. Message is shown to
// clients and must be safe; Err is the internal cause, logged for server
// errors and never shown.
type Error struct {
	// Status is the HTTP status of the response.
	Status int
	// Code is the wire code (one of the Code constants).
	Code int
	// Message is the client-facing explanation.
	Message string
	// Data, when set, is sent as the envelope's data (for example the
	// rejected receivers of a batch that had none valid).
	Data any
	// Err is the internal cause.
	Err error
	// RetryAfter, when positive, is sent as the Retry-After header (whole
	// seconds, at least 1): on 429 and 503 it tells clients when to retry.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%d %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// NewError returns an *Error with a formatted client-facing message.
func NewError(status, code int, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errInvalidParams(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidParams, format, args...)
}

func errMissing(name string) *Error {
	return NewError(http.StatusBadRequest, CodeMissingParam, "missing required parameter %s", name)
}

func errInvalidValue(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidValue, format, args...)
}

func errReceiver(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidReceiver, format, args...)
}

func errUnauthorized(code int, format string, args ...any) *Error {
	return NewError(http.StatusUnauthorized, code, format, args...)
}

func errForbidden(code int, format string, args ...any) *Error {
	return NewError(http.StatusForbidden, code, format, args...)
}

func errTaskNotFound(taskID string) *Error {
	return NewError(http.StatusNotFound, CodeTaskNotFound, "task %s not found", taskID)
}

// unavailableRetryAfter is the Retry-After of a 503 for a dependency
// outage: long enough not to hammer a recovering dependency, short enough
// that an outage of seconds costs clients seconds.
const unavailableRetryAfter = 5 * time.Second

// dependencyError wraps the failure of a dependency under its wire code. A
// dependency that cannot be reached (connection refused or lost, pool
// exhausted, server shutting down) is an outage: 503 with Retry-After,
// because clients' retry policies key on 503 and the request may well work
// in a moment. Anything else (a bad query, a constraint the code did not
// expect) is a bug of ours: 500, which a retry does not fix. The cause is
// logged, never shown.
func dependencyError(code int, name, what string, err error) *Error {
	cause := fmt.Errorf("%s: %w", what, err)
	if dependencyUnavailable(err) {
		return &Error{Status: http.StatusServiceUnavailable, Code: code, Message: name + " unavailable; retry later", Err: cause, RetryAfter: unavailableRetryAfter}
	}
	return &Error{Status: http.StatusInternalServerError, Code: code, Message: name + " error", Err: cause}
}

// errDatabase wraps a store failure.
func errDatabase(what string, err error) *Error {
	return dependencyError(CodeDatabase, "database", what, err)
}

// errCache wraps a Redis failure.
func errCache(what string, err error) *Error {
	return dependencyError(CodeCache, "cache", what, err)
}

// errEngine wraps a workflow engine failure.
func errEngine(what string, err error) *Error {
	return dependencyError(CodeEngine, "workflow engine", what, err)
}

// dependencyUnavailable reports whether err says a dependency could not be
// reached or did not answer in time, as opposed to a dependency answering
// that something is wrong.
func dependencyUnavailable(err error) bool {
	if store.IsUnavailable(err) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var unavailable *serviceerror.Unavailable
	var deadline *serviceerror.DeadlineExceeded
	return errors.As(err, &unavailable) || errors.As(err, &deadline)
}

// envelope is the body of every JSON response.
type envelope struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

func success(c echo.Context, data any) error {
	return c.JSON(http.StatusOK, envelope{Code: CodeOK, Message: "success", Data: data})
}

// toError maps any error a handler or Echo produced to an *Error.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return NewError(http.StatusRequestEntityTooLarge, CodeInvalidParams, "request body exceeds %d bytes", mbe.Limit)
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return fromEchoError(he)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeTimeout, Message: "timed out", Err: err, RetryAfter: unavailableRetryAfter}
	}
	// A dependency failure that reached here without being wrapped by
	// errDatabase, errCache or errEngine still answers as an outage.
	var unavailable *serviceerror.Unavailable
	switch {
	case errors.As(err, &unavailable):
		return errEngine("request", err)
	case store.IsDatabaseError(err):
		return errDatabase("request", err)
	case dependencyUnavailable(err):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeInternal, Message: "a dependency is unavailable; retry later", Err: err, RetryAfter: unavailableRetryAfter}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

// fromEchoError maps Echo's own errors (unknown route, wrong method, body
// too large, binding) to the envelope codes without echoing their text,
// which may carry internals.
func fromEchoError(he *echo.HTTPError) *Error {
	switch {
	case he.Code == http.StatusNotFound:
		return NewError(http.StatusNotFound, CodeInvalidParams, "no such endpoint")
	case he.Code == http.StatusMethodNotAllowed:
		return NewError(http.StatusMethodNotAllowed, CodeInvalidParams, "method not allowed")
	case he.Code == http.StatusRequestEntityTooLarge:
		return NewError(http.StatusRequestEntityTooLarge, CodeInvalidParams, "request body too large")
	case he.Code == http.StatusUnsupportedMediaType:
		return NewError(http.StatusUnsupportedMediaType, CodeInvalidParams, "unsupported media type")
	case he.Code >= 400 && he.Code < 500:
		return NewError(he.Code, CodeInvalidParams, "%s", http.StatusText(he.Code))
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: he}
}

// handleError is the server's only HTTPErrorHandler.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := toError(err)
	if ae.Status >= 500 {
		fields := []zap.Field{
			zap.String("method", c.Request().Method),
			zap.String("path", c.Request().URL.Path),
			zap.Int("status", ae.Status),
			zap.Int("code", ae.Code),
			zap.Error(err),
		}
		if app := appFrom(c); app != nil {
			fields = append(fields, zap.String("app_id", app.ID))
		}
		if errors.Is(err, context.Canceled) {
			// The client went away; nothing is wrong with the server.
			s.log.Debug("request cancelled", fields...)
		} else {
			s.log.Error("request failed", fields...)
		}
	}
	if ae.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(ae.RetryAfter)))
	}
	var werr error
	if c.Request().Method == http.MethodHead {
		werr = c.NoContent(ae.Status)
	} else {
		werr = c.JSON(ae.Status, envelope{Code: ae.Code, Message: ae.Message, Data: ae.Data})
	}
	if werr != nil {
		s.log.Debug("write error response", zap.Error(werr))
	}
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1: a
// Retry-After of 0 would invite an immediate retry.
func retryAfterSeconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}
