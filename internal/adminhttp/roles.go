package adminhttp

import (
	"fmt"

	"github.com/labstack/echo/v4"
)

// Role is what a user may do. Each role includes the ones below it.
type Role string

const (
	// RoleViewer reads everything, with receivers and contents masked.
	RoleViewer Role = "viewer"
	// RoleOperator also changes configuration and acts on messages.
	RoleOperator Role = "operator"
	// RoleAdmin also manages users.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from least to most privileged.
var Roles = []Role{RoleViewer, RoleOperator, RoleAdmin}

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r includes min.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// ParseRole turns a role name into a Role.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fmt.Errorf("unknown role %q: use viewer, operator or admin", s)
	}
	return r, nil
}

// Principal is the signed-in user a request acts for.
type Principal struct {
	UserID   int64
	Username string
	Role     Role
}

// Actor names the principal in the audit log.
func (p Principal) Actor() string { return "user:" + p.Username }

// MasksPersonalData reports whether receivers and contents must be masked
// in what the principal reads.
func (p Principal) MasksPersonalData() bool { return !p.Role.AtLeast(RoleOperator) }

const principalKey = "herald.admin.principal"

// SetPrincipal records the authenticated principal on the request; only
// the authentication middleware calls it.
func SetPrincipal(c echo.Context, p Principal) { c.Set(principalKey, p) }

// PrincipalFrom returns the request's principal, if it has one.
func PrincipalFrom(c echo.Context) (Principal, bool) {
	p, ok := c.Get(principalKey).(Principal)
	return p, ok
}

// Require lets a request through only when its principal holds at least
// min: 401 without a principal, 403 with too small a role. Every admin
// route declares it, so a route without a declared role is a review
// finding rather than a silent default.
func Require(min Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := PrincipalFrom(c)
			if !ok {
				return Unauthorized("sign in first: send a valid access token as Authorization: Bearer <token>")
			}
			if !p.Role.AtLeast(min) {
				return Forbidden(fmt.Sprintf("role %s may not do this; it needs %s", p.Role, min))
			}
			return next(c)
		}
	}
}
