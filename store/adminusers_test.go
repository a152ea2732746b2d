package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		u := &AdminUser{Username: "ops", PasswordHash: "$argon2id$x", Role: "operator"}
		require.NoError(t, db.CreateAdminUser(ctx, u))
		require.NotZero(t, u.ID)
		require.Equal(t, 1, u.Version)
		require.ErrorIs(t, db.CreateAdminUser(ctx, &AdminUser{Username: "ops", PasswordHash: "x", Role: "viewer"}), ErrConflict)

		got, err := db.GetAdminUserByName(ctx, "ops")
		require.NoError(t, err)
		require.Equal(t, u.ID, got.ID)
		require.False(t, got.Disabled)
		_, err = db.GetAdminUser(ctx, 999)
		require.ErrorIs(t, err, ErrNotFound)

		got.Role, got.Disabled, got.TokenVersion = "admin", true, 2
		require.NoError(t, db.UpdateAdminUser(ctx, got))
		require.Equal(t, 2, got.Version)
		again, err := db.GetAdminUser(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, "admin", again.Role)
		require.True(t, again.Disabled)
		require.Equal(t, 2, again.TokenVersion)

		// A write from version 1 lost the race.
		u.Role = "viewer"
		require.ErrorIs(t, db.UpdateAdminUser(ctx, u), ErrStale)
		require.ErrorIs(t, db.UpdateAdminUser(ctx, &AdminUser{ID: 999, Version: 1}), ErrNotFound)

		require.NoError(t, db.CreateAdminUser(ctx, &AdminUser{Username: "viewer", PasswordHash: "x", Role: "viewer"}))
		page, err := db.ListAdminUsers(ctx, AdminUserFilter{Limit: 1})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, "ops", page[0].Username)
		rest, err := db.ListAdminUsers(ctx, AdminUserFilter{After: page[0].ID})
		require.NoError(t, err)
		require.Len(t, rest, 1)
		require.Equal(t, "viewer", rest[0].Username)
		n, err := db.CountAdminUsers(ctx)
		require.NoError(t, err)
		require.Equal(t, 2, n)
	})
}

func TestRefreshTokens(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		u := &AdminUser{Username: "ops", PasswordHash: "x", Role: "operator"}
		require.NoError(t, db.CreateAdminUser(ctx, u))
		now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
		mk := func(hash, family string) *RefreshToken {
			tok := &RefreshToken{TokenHash: hash, FamilyID: family, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: now.Add(24 * time.Hour)}
			require.NoError(t, db.CreateRefreshToken(ctx, tok))
			return tok
		}
		a := mk("h1", "f1")
		mk("h2", "f1")
		other := mk("h3", "f2")

		ok, err := db.MarkRefreshTokenRotated(ctx, a.ID, now)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = db.MarkRefreshTokenRotated(ctx, a.ID, now)
		require.NoError(t, err)
		require.False(t, ok, "a token rotates once")
		got, err := db.GetRefreshToken(ctx, "h1")
		require.NoError(t, err)
		require.Equal(t, now, *got.RotatedAt)
		require.Equal(t, now.Add(24*time.Hour), got.FamilyExpiresAt)

		require.NoError(t, db.RevokeRefreshFamily(ctx, "f1", now))
		got, err = db.GetRefreshToken(ctx, "h2")
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt)
		got, err = db.GetRefreshToken(ctx, "h3")
		require.NoError(t, err)
		require.Nil(t, got.RevokedAt, "another sign-in is untouched")

		require.NoError(t, db.RevokeUserRefreshTokens(ctx, u.ID, now))
		got, err = db.GetRefreshToken(ctx, "h3")
		require.NoError(t, err)
		require.NotNil(t, got.RevokedAt)
		ok, err = db.MarkRefreshTokenRotated(ctx, other.ID, now)
		require.NoError(t, err)
		require.False(t, ok, "a revoked token does not rotate")

		n, err := db.DeleteExpiredRefreshTokens(ctx, now.Add(25*time.Hour))
		require.NoError(t, err)
		require.EqualValues(t, 3, n)
		_, err = db.GetRefreshToken(ctx, "h1")
		require.ErrorIs(t, err, ErrNotFound)
	})
}

func TestLoginFailures(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
		f, err := db.GetLoginFailure(ctx, "ops", "192.0.2.1")
		require.NoError(t, err)
		require.Nil(t, f)
		for i := 1; i <= 3; i++ {
			n, err := db.RecordLoginFailure(ctx, "ops", "192.0.2.1", now.Add(time.Duration(i)*time.Second), now.Add(-time.Hour))
			require.NoError(t, err)
			require.Equal(t, i, n)
		}
		n, err := db.RecordLoginFailure(ctx, "ops", "192.0.2.2", now, now.Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, 1, n, "counted per client IP")

		require.NoError(t, db.LockLogin(ctx, "ops", "192.0.2.1", now.Add(time.Minute)))
		f, err = db.GetLoginFailure(ctx, "ops", "192.0.2.1")
		require.NoError(t, err)
		require.Equal(t, 3, f.Failures)
		require.Equal(t, now.Add(time.Minute), *f.LockedUntil)
		require.Equal(t, now.Add(3*time.Second), f.LastFailureAt)

		// Failures older than the memory start over.
		later := now.Add(2 * time.Hour)
		n, err = db.RecordLoginFailure(ctx, "ops", "192.0.2.1", later, later.Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, 1, n)

		// A success clears its own pair and anything stale.
		require.NoError(t, db.ClearLoginFailures(ctx, "ops", "192.0.2.1", later.Add(-time.Hour)))
		f, err = db.GetLoginFailure(ctx, "ops", "192.0.2.1")
		require.NoError(t, err)
		require.Nil(t, f)
		f, err = db.GetLoginFailure(ctx, "ops", "192.0.2.2")
		require.NoError(t, err)
		require.Nil(t, f, "stale failures of others are dropped")
	})
}
