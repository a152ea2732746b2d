package adminhttp

import (
	"context"
	"time"

	"github.com/labstack/echo/v4"
)

// AuditEntry is one write in the audit log.
type AuditEntry struct {
	// Actor is "user:<name>" for the admin API, "cli:<os user>" for
	// herald apply and other direct commands.
	Actor string
	// Action is a dotted verb, e.g. "app.create", "message.resend".
	Action string
	// ObjectType and ObjectID name what was written ("app", "demo").
	ObjectType string
	ObjectID   string
	// Diff maps each changed field to its before and after values, with
	// secrets already replaced by "[redacted]".
	Diff     map[string]any
	ClientIP string
	At       time.Time
}

// Auditor records audit entries (implemented over the store by the
// admin server). Record is called in, or right after, the transaction
// of the write it describes.
type Auditor interface {
	Record(ctx context.Context, e AuditEntry) error
}

// EntryFor starts an audit entry for the request's principal and client
// IP (echo's RealIP, which the admin server configures to trust only its
// trusted proxies).
func EntryFor(c echo.Context, action, objectType, objectID string, diff map[string]any) AuditEntry {
	p, _ := PrincipalFrom(c)
	return AuditEntry{
		Actor:      p.Actor(),
		Action:     action,
		ObjectType: objectType,
		ObjectID:   objectID,
		Diff:       diff,
		ClientIP:   c.RealIP(),
	}
}
