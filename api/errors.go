package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// Wire codes of the /api/v1 contract. 0 is success; the rest travel in the
// envelope's "code" field next to a proper HTTP status.
const (
	CodeOK = 0

	CodeInvalidParams    = 10001 // invalid parameters (wrong type, bad body, unknown endpoint)
	CodeMalformedJSON    = 10002 // body is not JSON
	CodeMissingParam     = 10003 // a required parameter is absent
	CodeInvalidValue     = 10004 // a parameter has a value that is not allowed
	CodeInvalidReceiver  = 10005 // phone number, e-mail address or user id is invalid
	CodeTemplateParams   = 10006 // template variable missing or unknown
	CodeUnauthorized     = 20001 // authentication headers missing or malformed
	CodeUnknownApp       = 20002 // X-App-Id names no app
	CodeBadSignature     = 20003 // X-Signature does not verify
	CodeBadTimestamp     = 20004 // X-Timestamp unparsable or outside the window
	CodeIPNotAllowed     = 20005 // client IP not in the app's allowlist
	CodeAppDisabled      = 20006 // the app is disabled
	CodeNonceReused      = 20007 // X-Nonce already seen inside the window
	CodeRateLimited      = 30001 // per-app request rate exceeded
	CodeQuotaExceeded    = 30002 // quota exceeded (reserved)
	CodeChannelNotFound  = 30003 // no such channel
	CodeChannelDisabled  = 30004 // channel disabled
	CodeTemplateNotFound = 30005 // channel has no usable template
	CodeNoProvider       = 30006 // no enabled provider account in the channel's pool
	CodeTaskNotFound     = 30007 // no such task for this app
	CodeBatchNotFound    = 30008 // no such batch for this app (reserved)
	CodeInternal         = 40001 // internal error, or a dependency down (health)
	CodeDatabase         = 40002 // database error
	CodeCache            = 40003 // Redis error
	CodeEngine           = 40004 // workflow engine error
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

// errDatabase wraps a store failure; the cause is logged, not shown.
func errDatabase(what string, err error) *Error {
	return &Error{Status: http.StatusInternalServerError, Code: CodeDatabase, Message: "database error", Err: fmt.Errorf("%s: %w", what, err)}
}

// errCache wraps a Redis failure.
func errCache(what string, err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeCache, Message: "cache unavailable", Err: fmt.Errorf("%s: %w", what, err)}
}

// errEngine wraps a workflow engine failure.
func errEngine(what string, err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeEngine, Message: "workflow engine unavailable", Err: fmt.Errorf("%s: %w", what, err)}
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
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeTimeout, Message: "timed out", Err: err}
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
