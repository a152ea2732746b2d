package adminhttp

import (
	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/store"
)

// AuditFor starts the audit record of a write made through the admin API:
// the request's principal as actor and its client IP (echo's RealIP, which
// the admin server configures to trust only its trusted proxies). The
// caller inserts it with store.InsertAudit in the write's transaction.
func AuditFor(c echo.Context, action, objectType, objectID string, diff map[string]any) *store.AuditRecord {
	p, _ := PrincipalFrom(c)
	return &store.AuditRecord{
		Actor:      p.Actor(),
		Action:     action,
		ObjectType: objectType,
		ObjectID:   objectID,
		Diff:       diff,
		ClientIP:   c.RealIP(),
	}
}
