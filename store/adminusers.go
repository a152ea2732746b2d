package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"
)

// AdminUser is an operator of the admin API.
type AdminUser struct {
	bun.BaseModel `bun:"table:admin_users,alias:au"`

	ID       int64  `bun:"id,pk,autoincrement"`
	Username string `bun:"username,notnull"`
	// PasswordHash is an argon2id PHC string; never shown.
	PasswordHash string `bun:"password_hash,notnull"`
	Role         string `bun:"role,notnull"`
	Disabled     bool   `bun:"disabled,notnull"`
	// TokenVersion moves whenever the role, the password or the enabled
	// state changes; access tokens issued before stop working.
	TokenVersion int `bun:"token_version,notnull"`
	// Version is the optimistic-concurrency version of the user.
	Version   int       `bun:"version,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
}

// AdminUserFilter pages through users by id.
type AdminUserFilter struct {
	// After is a cursor: only users with a larger id.
	After int64
	// Limit defaults to 50 and is at most 500.
	Limit int
}

// CreateAdminUser inserts a user with version and token version 1. A
// taken username returns an error wrapping ErrConflict.
func (db *DB) CreateAdminUser(ctx context.Context, u *AdminUser) error {
	now := db.timestamp()
	u.CreatedAt, u.UpdatedAt = now, now
	u.Version, u.TokenVersion = 1, 1
	if _, err := db.idb.NewInsert().Model(u).Exec(ctx); err != nil {
		return fmt.Errorf("create admin user %q: %w", u.Username, mapErr(err))
	}
	return nil
}

// GetAdminUser returns a user by id, or an error wrapping ErrNotFound.
func (db *DB) GetAdminUser(ctx context.Context, id int64) (*AdminUser, error) {
	u := new(AdminUser)
	if err := db.idb.NewSelect().Model(u).Where("au.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get admin user %d: %w", id, mapErr(err))
	}
	normAdminUser(u)
	return u, nil
}

// GetAdminUserByName returns a user by username, or an error wrapping
// ErrNotFound.
func (db *DB) GetAdminUserByName(ctx context.Context, username string) (*AdminUser, error) {
	u := new(AdminUser)
	if err := db.idb.NewSelect().Model(u).Where("au.username = ?", username).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get admin user %q: %w", username, mapErr(err))
	}
	normAdminUser(u)
	return u, nil
}

// ListAdminUsers returns users in id order.
func (db *DB) ListAdminUsers(ctx context.Context, f AdminUserFilter) ([]AdminUser, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	var out []AdminUser
	q := db.idb.NewSelect().Model(&out).OrderExpr("au.id ASC").Limit(int64(limit))
	if f.After > 0 {
		q = q.Where("au.id > ?", f.After)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("list admin users: %w", mapErr(err))
	}
	for i := range out {
		normAdminUser(&out[i])
	}
	return out, nil
}

// CountAdminUsers counts the users.
func (db *DB) CountAdminUsers(ctx context.Context) (int, error) {
	n, err := db.idb.NewSelect().Model((*AdminUser)(nil)).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count admin users: %w", mapErr(err))
	}
	return int(n), nil
}

// UpdateAdminUser writes u's role, password hash, disabled flag and token
// version when the stored version is still u.Version, then advances
// u.Version. It returns an error wrapping ErrNotFound for a missing user
// and ErrStale when the stored version moved on.
func (db *DB) UpdateAdminUser(ctx context.Context, u *AdminUser) error {
	now := db.timestamp()
	res, err := db.idb.NewUpdate().Model(u).
		Set("role = ?", u.Role).
		Set("password_hash = ?", u.PasswordHash).
		Set("disabled = ?", u.Disabled).
		Set("token_version = ?", u.TokenVersion).
		Set("version = ?", u.Version+1).
		Set("updated_at = ?", now).
		Where("au.id = ? AND au.version = ?", u.ID, u.Version).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("update admin user %d: %w", u.ID, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := db.GetAdminUser(ctx, u.ID); err != nil {
			return err
		}
		return fmt.Errorf("update admin user %d: %w", u.ID, ErrStale)
	}
	u.Version++
	u.UpdatedAt = now
	return nil
}

func normAdminUser(u *AdminUser) {
	u.CreatedAt = normTime(u.CreatedAt)
	u.UpdatedAt = normTime(u.UpdatedAt)
}

// RefreshToken is one refresh token of a sign-in session. Only its SHA-256
// hash is stored. Tokens of one sign-in share a family: each refresh
// marks the presented token rotated and adds its successor.
type RefreshToken struct {
	bun.BaseModel `bun:"table:admin_refresh_tokens,alias:art"`

	ID        int64     `bun:"id,pk,autoincrement"`
	TokenHash string    `bun:"token_hash,notnull"`
	FamilyID  string    `bun:"family_id,notnull"`
	UserID    int64     `bun:"user_id,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	// ExpiresAt is when this token lapses unused (the idle limit).
	ExpiresAt time.Time `bun:"expires_at,notnull"`
	// FamilyExpiresAt is when the whole sign-in ends, however active.
	FamilyExpiresAt time.Time  `bun:"family_expires_at,notnull"`
	RotatedAt       *time.Time `bun:"rotated_at"`
	RevokedAt       *time.Time `bun:"revoked_at"`
}

// CreateRefreshToken stores a refresh token.
func (db *DB) CreateRefreshToken(ctx context.Context, t *RefreshToken) error {
	t.CreatedAt = normTime(t.CreatedAt)
	t.ExpiresAt = normTime(t.ExpiresAt)
	t.FamilyExpiresAt = normTime(t.FamilyExpiresAt)
	if _, err := db.idb.NewInsert().Model(t).Exec(ctx); err != nil {
		return fmt.Errorf("create refresh token: %w", mapErr(err))
	}
	return nil
}

// GetRefreshToken returns the token with the hash, or an error wrapping
// ErrNotFound.
func (db *DB) GetRefreshToken(ctx context.Context, tokenHash string) (*RefreshToken, error) {
	t := new(RefreshToken)
	if err := db.idb.NewSelect().Model(t).Where("art.token_hash = ?", tokenHash).Scan(ctx); err != nil {
		return nil, fmt.Errorf("get refresh token: %w", mapErr(err))
	}
	t.CreatedAt = normTime(t.CreatedAt)
	t.ExpiresAt = normTime(t.ExpiresAt)
	t.FamilyExpiresAt = normTime(t.FamilyExpiresAt)
	t.RotatedAt = normTimePtr(t.RotatedAt)
	t.RevokedAt = normTimePtr(t.RevokedAt)
	return t, nil
}

// MarkRefreshTokenRotated marks a live token rotated. It reports false
// when the token was already rotated or revoked, so of two refreshes
// racing with one token exactly one wins.
func (db *DB) MarkRefreshTokenRotated(ctx context.Context, id int64, at time.Time) (bool, error) {
	res, err := db.idb.NewUpdate().Model((*RefreshToken)(nil)).
		Set("rotated_at = ?", normTime(at)).
		Where("id = ? AND rotated_at IS NULL AND revoked_at IS NULL", id).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("rotate refresh token: %w", mapErr(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RevokeRefreshFamily revokes every token of a sign-in.
func (db *DB) RevokeRefreshFamily(ctx context.Context, familyID string, at time.Time) error {
	_, err := db.idb.NewUpdate().Model((*RefreshToken)(nil)).
		Set("revoked_at = ?", normTime(at)).
		Where("family_id = ? AND revoked_at IS NULL", familyID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoke refresh tokens: %w", mapErr(err))
	}
	return nil
}

// RevokeUserRefreshTokens revokes every token of a user (a disabled user,
// a reset password).
func (db *DB) RevokeUserRefreshTokens(ctx context.Context, userID int64, at time.Time) error {
	_, err := db.idb.NewUpdate().Model((*RefreshToken)(nil)).
		Set("revoked_at = ?", normTime(at)).
		Where("user_id = ? AND revoked_at IS NULL", userID).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoke refresh tokens of user %d: %w", userID, mapErr(err))
	}
	return nil
}

// DeleteExpiredRefreshTokens removes the tokens of sign-ins that ended
// before cutoff; it returns how many.
func (db *DB) DeleteExpiredRefreshTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.idb.NewDelete().Model((*RefreshToken)(nil)).
		Where("family_expires_at < ?", normTime(cutoff)).
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete expired refresh tokens: %w", mapErr(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// LoginFailure is the back-off state of one (username, client IP).
type LoginFailure struct {
	bun.BaseModel `bun:"table:admin_login_failures,alias:alf"`

	Username      string     `bun:"username,pk"`
	ClientIP      string     `bun:"client_ip,pk"`
	Failures      int        `bun:"failures,notnull"`
	LastFailureAt time.Time  `bun:"last_failure_at,notnull"`
	LockedUntil   *time.Time `bun:"locked_until"`
}

// GetLoginFailure returns the state of (username, ip), or nil when it has
// no failures on record.
func (db *DB) GetLoginFailure(ctx context.Context, username, ip string) (*LoginFailure, error) {
	f := new(LoginFailure)
	err := db.idb.NewSelect().Model(f).Where("alf.username = ? AND alf.client_ip = ?", username, ip).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get login failures: %w", mapErr(err))
	}
	f.LastFailureAt = normTime(f.LastFailureAt)
	f.LockedUntil = normTimePtr(f.LockedUntil)
	return f, nil
}

// RecordLoginFailure counts one failure of (username, ip) at `at` and
// returns the count. A count whose latest failure is older than
// forgetBefore starts again at one. The increment is one statement, so
// concurrent failures are all counted.
func (db *DB) RecordLoginFailure(ctx context.Context, username, ip string, at, forgetBefore time.Time) (int, error) {
	at = normTime(at)
	var failures int
	err := db.idb.NewRaw(`INSERT INTO admin_login_failures (username, client_ip, failures, last_failure_at)
VALUES (?, ?, 1, ?)
ON CONFLICT (username, client_ip) DO UPDATE SET
    failures = CASE WHEN admin_login_failures.last_failure_at < ? THEN 1 ELSE admin_login_failures.failures + 1 END,
    last_failure_at = EXCLUDED.last_failure_at
RETURNING failures`, username, ip, at, normTime(forgetBefore)).Scan(ctx, &failures)
	if err != nil {
		return 0, fmt.Errorf("record login failure: %w", mapErr(err))
	}
	return failures, nil
}

// LockLogin refuses sign-ins of (username, ip) until `until`.
func (db *DB) LockLogin(ctx context.Context, username, ip string, until time.Time) error {
	_, err := db.idb.NewUpdate().Model((*LoginFailure)(nil)).
		Set("locked_until = ?", normTime(until)).
		Where("username = ? AND client_ip = ?", username, ip).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("lock login: %w", mapErr(err))
	}
	return nil
}

// ClearLoginFailures forgets the failures of (username, ip), after a
// successful sign-in, and any failure of anyone older than forgetBefore,
// so the table stays small however many names are tried.
func (db *DB) ClearLoginFailures(ctx context.Context, username, ip string, forgetBefore time.Time) error {
	_, err := db.idb.NewDelete().Model((*LoginFailure)(nil)).
		Where("(username = ? AND client_ip = ?) OR last_failure_at < ?", username, ip, normTime(forgetBefore)).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("clear login failures: %w", mapErr(err))
	}
	return nil
}
