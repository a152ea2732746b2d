package store

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/pgdriver"
	"modernc.org/sqlite"
)

// TestErrorMapping checks that driver errors become ErrNotFound and
// ErrConflict while the driver error stays in the chain for logs.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		driverErr := func(t *testing.T, err error) {
			t.Helper()
			var pgErr pgdriver.Error
			var liteErr *sqlite.Error
			switch db.Dialect() {
			case DialectPostgres:
				require.True(t, errors.As(err, &pgErr), "%v", err)
			case DialectSQLite:
				require.True(t, errors.As(err, &liteErr), "%v", err)
			}
		}

		t.Run("NoRows", func(t *testing.T) {
			_, err := db.GetChannel(ctx, 12345)
			require.ErrorIs(t, err, ErrNotFound)
			require.NotErrorIs(t, err, ErrConflict)
			require.EqualError(t, err, "get channel 12345: store: not found")
		})
		t.Run("PrimaryKey", func(t *testing.T) {
			require.NoError(t, db.CreateApp(ctx, &App{ID: "dup", Name: "a"}))
			err := db.CreateApp(ctx, &App{ID: "dup", Name: "b"})
			require.ErrorIs(t, err, ErrConflict)
			require.NotErrorIs(t, err, ErrNotFound)
			driverErr(t, err)
		})
		t.Run("Unique", func(t *testing.T) {
			require.NoError(t, db.CreateChannel(ctx, &Channel{Name: "dup", Type: ChannelSMS}))
			err := db.CreateChannel(ctx, &Channel{Name: "dup", Type: ChannelSMS})
			require.ErrorIs(t, err, ErrConflict)
			driverErr(t, err)
		})
		t.Run("ForeignKey", func(t *testing.T) {
			err := db.SetPoolMember(ctx, 777, 888, 1)
			require.ErrorIs(t, err, ErrNotFound)
			driverErr(t, err)
		})
		t.Run("Other", func(t *testing.T) {
			_, err := db.Bun().ExecContext(ctx, "SELECT * FROM no_such_table")
			mapped := mapErr(err)
			require.Equal(t, err, mapped)
			require.NotErrorIs(t, mapped, ErrNotFound)
			require.NotErrorIs(t, mapped, ErrConflict)
			require.NoError(t, mapErr(nil))
		})
	})
}

// TestJSONColumns checks that list and map fields are stored as JSON text
// on both dialects, so either database can be read by other tools.
func TestJSONColumns(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := &Channel{Name: "j", Type: ChannelSMS, SignatureNames: []string{"Acme", `Quote"d`, "中文"}}
		require.NoError(t, db.CreateChannel(ctx, ch))
		var raw string
		require.NoError(t, db.Bun().QueryRowContext(ctx, "SELECT signature_names FROM channels WHERE id = ?", ch.ID).Scan(&raw))
		require.JSONEq(t, `["Acme","Quote\"d","中文"]`, raw)

		tpl := &Template{Name: "t"}
		require.NoError(t, db.CreateTemplate(ctx, tpl))
		acc := &ProviderAccount{Name: "a", Kind: "sandbox"}
		require.NoError(t, db.CreateAccount(ctx, acc))
		require.NoError(t, db.UpsertTemplateMapping(ctx, &TemplateMapping{
			TemplateID: tpl.ID, AccountID: acc.ID, ProviderCode: "c", ParamNames: map[string]string{"a": "b"},
		}))
		require.NoError(t, db.Bun().QueryRowContext(ctx, "SELECT param_names FROM template_mappings WHERE template_id = ?", tpl.ID).Scan(&raw))
		require.JSONEq(t, `{"a":"b"}`, raw)

		// Patches write the same encoding.
		require.NoError(t, db.UpdateChannel(ctx, ch.ID, ChannelPatch{SignatureNames: ptr([]string{"x"})}))
		require.NoError(t, db.Bun().QueryRowContext(ctx, "SELECT signature_names FROM channels WHERE id = ?", ch.ID).Scan(&raw))
		require.JSONEq(t, `["x"]`, raw)
	})
}
