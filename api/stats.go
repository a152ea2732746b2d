package api

import (
	"errors"
	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/stats"
)

// getStats answers statistics about the calling app's own messages, in
// the operators' API's shape (see internal/stats), grouped by channel or
// status at most.
func (s *Server) getStats(c echo.Context) error {
	app := appFrom(c)
	q, err := stats.ParseQuery(c.QueryParams(), s.now(), stats.ClientGroups)
	if err != nil {
		var fe *stats.FieldError
		if errors.As(err, &fe) {
			return errInvalidValue("%s", fe.Error())
		}
		return err
	}
	q.AppID = app.ID
	rep, err := stats.Compute(c.Request().Context(), s.store, q, nil)
	if err != nil {
		return errDatabase("read statistics", err)
	}
	return success(c, rep)
}
