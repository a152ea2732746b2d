package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTemplates(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		tpl := &Template{
			Name: "verify", ContentType: "text", Subject: "Code", Content: "Your code is {{code}}, valid {{minutes}} min",
			Variables: []string{"code", "minutes"}, Description: "login code",
		}
		require.NoError(t, db.CreateTemplate(ctx, tpl))
		require.NotZero(t, tpl.ID)

		t.Run("Get", func(t *testing.T) {
			got, err := db.GetTemplate(ctx, tpl.ID)
			require.NoError(t, err)
			require.Equal(t, tpl, got)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.GetTemplate(ctx, tpl.ID+100)
			require.ErrorIs(t, err, ErrNotFound)
		})

		acc := &ProviderAccount{Name: "tc", Kind: "tencent", Config: []byte(`{}`)}
		require.NoError(t, db.CreateAccount(ctx, acc))

		t.Run("Mapping", func(t *testing.T) {
			_, err := db.GetTemplateMapping(ctx, tpl.ID, acc.ID)
			require.ErrorIs(t, err, ErrNotFound)

			m := &TemplateMapping{
				TemplateID: tpl.ID, AccountID: acc.ID, ProviderCode: "123456",
				ParamOrder: []string{"code", "minutes"}, ParamNames: map[string]string{"code": "Code", "minutes": "Min"},
			}
			require.NoError(t, db.UpsertTemplateMapping(ctx, m))
			got, err := db.GetTemplateMapping(ctx, tpl.ID, acc.ID)
			require.NoError(t, err)
			require.Equal(t, m, got)

			m2 := &TemplateMapping{TemplateID: tpl.ID, AccountID: acc.ID, ProviderCode: "654321", ParamOrder: []string{"code"}}
			require.NoError(t, db.UpsertTemplateMapping(ctx, m2))
			got, err = db.GetTemplateMapping(ctx, tpl.ID, acc.ID)
			require.NoError(t, err)
			require.Equal(t, m2, got)
			require.Nil(t, got.ParamNames)
		})
		t.Run("MappingUnknownAccount", func(t *testing.T) {
			err := db.UpsertTemplateMapping(ctx, &TemplateMapping{TemplateID: tpl.ID, AccountID: acc.ID + 100, ProviderCode: "x"})
			require.ErrorIs(t, err, ErrNotFound)
		})
	})
}
