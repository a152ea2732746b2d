package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// listAudit pages through the audit log, newest first. Operators and
// admins may read it; viewers may not, as diffs show configuration
// detail beyond what their masked views reveal.
func (s *Server) listAudit(c echo.Context) error {
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	f := store.AuditFilter{
		Actor:      c.QueryParam("actor"),
		Action:     c.QueryParam("action"),
		ObjectType: c.QueryParam("object_type"),
		ObjectID:   c.QueryParam("object_id"),
		Before:     cursor,
		Limit:      limit,
	}
	if f.Since, err = timeParam(c, "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(c, "until"); err != nil {
		return err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return adminhttp.Invalid("until", "until must be after since")
	}
	recs, err := s.db.ListAudit(c.Request().Context(), f)
	if err != nil {
		return adminhttp.Internal("list audit log", err)
	}
	out := List[store.AuditRecord]{Items: recs}
	if out.Items == nil {
		out.Items = []store.AuditRecord{}
	}
	for i := range out.Items {
		out.Items[i].At = out.Items[i].At.UTC()
	}
	if len(recs) == limit {
		out.NextCursor = strconv.FormatInt(recs[len(recs)-1].ID, 10)
	}
	return c.JSON(http.StatusOK, out)
}

func timeParam(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, adminhttp.Invalid(name, name+" must be an RFC 3339 time, e.g. 2026-12-03T08:00:00Z")
	}
	return t, nil
}
