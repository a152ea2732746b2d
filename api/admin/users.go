package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// Actor is who makes a change, for the audit log: "user:<name>" through
// the API, "cli:<os user>" from herald admin user.
type Actor struct {
	Name     string
	ClientIP string
	// UserID is the acting user's id, 0 for the CLI; users may not
	// demote or disable themselves.
	UserID int64
}

// Users creates and changes users: the one place for the admin API and
// for herald admin user, with the same rules and audit records. Its
// errors are adminhttp Problems that say what to fix.
type Users struct {
	db     *store.DB
	hasher *Hasher
	now    func() time.Time
}

// NewUsers returns the user service over db.
func NewUsers(db *store.DB, h *Hasher, now func() time.Time) *Users {
	if now == nil {
		now = time.Now
	}
	return &Users{db: db, hasher: h, now: now}
}

// UserPatch is a change to a user; nil fields stay.
type UserPatch struct {
	Role     *adminhttp.Role
	Disabled *bool
	Password *string
	// Version, when positive, must be the user's current version.
	Version int
}

// Create adds a user.
func (us *Users) Create(ctx context.Context, actor Actor, username, password string, role adminhttp.Role) (*store.AdminUser, error) {
	name := NormalizeUsername(username)
	if err := ValidateUsername(name); err != nil {
		return nil, adminhttp.Invalid("username", err.Error())
	}
	if !role.Valid() {
		return nil, adminhttp.Invalid("role", "role must be viewer, operator or admin")
	}
	if err := ValidatePassword(name, password); err != nil {
		return nil, adminhttp.Invalid("password", err.Error())
	}
	hash, err := us.hasher.Hash(ctx, password)
	if err != nil {
		return nil, hashProblem(err)
	}
	u := &store.AdminUser{Username: name, PasswordHash: hash, Role: string(role)}
	err = us.db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		if err := tx.CreateAdminUser(ctx, u); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, actor.record("user.create", u, map[string]any{
			"username": []any{nil, u.Username},
			"role":     []any{nil, u.Role},
			"password": []any{nil, redacted},
		}))
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, adminhttp.Conflict(fmt.Sprintf("user %q exists already", name))
	}
	if err != nil {
		return nil, adminhttp.Internal("create user", err)
	}
	return u, nil
}

const redacted = "[redacted]"

// Update changes a user's role, enabled state or password. Any of them
// ends the user's access tokens (token_version moves); disabling or a
// new password also ends every sign-in.
func (us *Users) Update(ctx context.Context, actor Actor, id int64, p UserPatch) (*store.AdminUser, error) {
	var hash string
	if p.Password != nil {
		u, err := us.db.GetAdminUser(ctx, id)
		if err != nil {
			return nil, userProblem(err, id)
		}
		if err := ValidatePassword(u.Username, *p.Password); err != nil {
			return nil, adminhttp.Invalid("password", err.Error())
		}
		if hash, err = us.hasher.Hash(ctx, *p.Password); err != nil {
			return nil, hashProblem(err)
		}
	}
	if p.Role != nil && !p.Role.Valid() {
		return nil, adminhttp.Invalid("role", "role must be viewer, operator or admin")
	}
	if actor.UserID == id && (p.Role != nil && *p.Role != adminhttp.RoleAdmin || p.Disabled != nil && *p.Disabled) {
		return nil, adminhttp.Conflict("you may not demote or disable yourself: ask another admin")
	}
	var out *store.AdminUser
	err := us.db.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		u, err := tx.GetAdminUser(ctx, id)
		if err != nil {
			return err
		}
		if p.Version > 0 && p.Version != u.Version {
			return store.ErrStale
		}
		diff := map[string]any{}
		action := "user.update"
		if p.Role != nil && string(*p.Role) != u.Role {
			diff["role"] = []any{u.Role, string(*p.Role)}
			u.Role = string(*p.Role)
		}
		if p.Disabled != nil && *p.Disabled != u.Disabled {
			diff["disabled"] = []any{u.Disabled, *p.Disabled}
			u.Disabled = *p.Disabled
		}
		if hash != "" {
			diff["password"] = []any{redacted, redacted}
			u.PasswordHash = hash
			action = "user.password"
		}
		out = u
		if len(diff) == 0 {
			return nil
		}
		u.TokenVersion++
		if err := tx.UpdateAdminUser(ctx, u); err != nil {
			return err
		}
		if u.Disabled || hash != "" {
			if err := tx.RevokeUserRefreshTokens(ctx, u.ID, us.now()); err != nil {
				return err
			}
		}
		return tx.InsertAudit(ctx, actor.record(action, u, diff))
	})
	if err != nil {
		return nil, userProblem(err, id)
	}
	return out, nil
}

func userProblem(err error, id int64) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return adminhttp.NotFound("user", strconv.FormatInt(id, 10))
	case errors.Is(err, store.ErrStale):
		return adminhttp.Conflict("the user was changed since you read it: read it again and retry with its new version")
	case err != nil:
		if _, ok := adminhttp.AsProblem(err); ok {
			return err
		}
		return adminhttp.Internal("update user", err)
	}
	return nil
}

func (a Actor) record(action string, u *store.AdminUser, diff map[string]any) *store.AuditRecord {
	return &store.AuditRecord{Actor: a.Name, Action: action, ObjectType: "user",
		ObjectID: strconv.FormatInt(u.ID, 10), Diff: diff, ClientIP: a.ClientIP}
}

func actorOf(c echo.Context) Actor {
	rec := adminhttp.AuditFor(c, "", "", "", nil)
	p, _ := adminhttp.PrincipalFrom(c)
	return Actor{Name: rec.Actor, ClientIP: rec.ClientIP, UserID: p.UserID}
}

// userView is a user on the wire; the hash never leaves the store.
type userView struct {
	ID        int64     `json:"id"`
	Username  string    `json:"username"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func viewUser(u *store.AdminUser) userView {
	return userView{ID: u.ID, Username: u.Username, Role: u.Role, Disabled: u.Disabled, Version: u.Version,
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

// List is the admin API's list answer.
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// pageParams reads ?limit= (default 50, at most 500) and ?cursor= (a
// positive id).
func pageParams(c echo.Context) (limit int, cursor int64, err error) {
	limit = 50
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return 0, 0, adminhttp.Invalid("limit", "limit must be a whole number from 1 to 500")
		}
		limit = n
	}
	if v := c.QueryParam("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return 0, 0, adminhttp.Invalid("cursor", "cursor is not valid: pass the next_cursor of the previous page")
		}
		cursor = n
	}
	return limit, cursor, nil
}

func (s *Server) listUsers(c echo.Context) error {
	limit, cursor, err := pageParams(c)
	if err != nil {
		return err
	}
	users, err := s.db.ListAdminUsers(c.Request().Context(), store.AdminUserFilter{After: cursor, Limit: limit})
	if err != nil {
		return adminhttp.Internal("list users", err)
	}
	out := List[userView]{Items: make([]userView, 0, len(users))}
	for i := range users {
		out.Items = append(out.Items, viewUser(&users[i]))
	}
	if len(users) == limit {
		out.NextCursor = strconv.FormatInt(users[len(users)-1].ID, 10)
	}
	return c.JSON(http.StatusOK, out)
}

type createUserRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"`
}

func (s *Server) createUser(c echo.Context) error {
	var req createUserRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	u, err := s.users.Create(c.Request().Context(), actorOf(c), req.Username, req.Password, adminhttp.Role(req.Role))
	if err != nil {
		return err
	}
	setETag(c, u.Version)
	return c.JSON(http.StatusCreated, viewUser(u))
}

func userID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, adminhttp.Invalid("id", "user id must be a positive whole number")
	}
	return id, nil
}

func (s *Server) getUser(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	u, err := s.db.GetAdminUser(c.Request().Context(), id)
	if err != nil {
		return userProblem(err, id)
	}
	setETag(c, u.Version)
	return c.JSON(http.StatusOK, viewUser(u))
}

func setETag(c echo.Context, version int) {
	c.Response().Header().Set("ETag", `"`+strconv.Itoa(version)+`"`)
}

// expectedVersion reads If-Match or the body's version: 428 when neither
// is given.
func expectedVersion(c echo.Context, bodyVersion *int) (int, error) {
	if v := strings.TrimSpace(c.Request().Header.Get("If-Match")); v != "" {
		n, err := strconv.Atoi(strings.Trim(strings.TrimPrefix(v, "W/"), `"`))
		if err != nil || n < 1 {
			return 0, adminhttp.Invalid("If-Match", `If-Match must be the ETag of a GET, e.g. "3"`)
		}
		return n, nil
	}
	if bodyVersion != nil {
		if *bodyVersion < 1 {
			return 0, adminhttp.Invalid("version", "version must be a positive whole number")
		}
		return *bodyVersion, nil
	}
	return 0, &adminhttp.Problem{Status: http.StatusPreconditionRequired, Code: CodePreconditionRequired,
		Message: "send If-Match with the ETag of a GET (or a version field) so concurrent changes are not lost"}
}

// CodePreconditionRequired answers an update without If-Match or version.
const CodePreconditionRequired = "precondition_required"

type updateUserRequest struct {
	Role     *string `json:"role"`
	Disabled *bool   `json:"disabled"`
	Version  *int    `json:"version"`
}

func (s *Server) updateUser(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	var req updateUserRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	version, err := expectedVersion(c, req.Version)
	if err != nil {
		return err
	}
	if req.Role == nil && req.Disabled == nil {
		return adminhttp.Invalid("", "nothing to change: send role and/or disabled")
	}
	p := UserPatch{Disabled: req.Disabled, Version: version}
	if req.Role != nil {
		r := adminhttp.Role(*req.Role)
		p.Role = &r
	}
	u, err := s.users.Update(c.Request().Context(), actorOf(c), id, p)
	if err != nil {
		return err
	}
	setETag(c, u.Version)
	return c.JSON(http.StatusOK, viewUser(u))
}

type passwordRequest struct {
	Password string `json:"password"`
	Version  *int   `json:"version"`
}

func (s *Server) resetPassword(c echo.Context) error {
	id, err := userID(c)
	if err != nil {
		return err
	}
	var req passwordRequest
	if err := bindJSON(c, &req); err != nil {
		return err
	}
	version, err := expectedVersion(c, req.Version)
	if err != nil {
		return err
	}
	u, err := s.users.Update(c.Request().Context(), actorOf(c), id, UserPatch{Password: &req.Password, Version: version})
	if err != nil {
		return err
	}
	setETag(c, u.Version)
	return c.JSON(http.StatusOK, viewUser(u))
}
