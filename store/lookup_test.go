package store

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFindTemplateByName(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		tpl := &Template{Name: "login", ContentType: "text", Content: "Code {{code}}", Variables: []string{"code"}}
		require.NoError(t, db.CreateTemplate(ctx, tpl))

		t.Run("OK", func(t *testing.T) {
			got, err := db.FindTemplateByName(ctx, "login")
			require.NoError(t, err)
			require.Equal(t, tpl, got)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.FindTemplateByName(ctx, "nope")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("ErrConflict", func(t *testing.T) {
			for range 2 {
				require.NoError(t, db.CreateTemplate(ctx, &Template{Name: "twice"}))
			}
			_, err := db.FindTemplateByName(ctx, "twice")
			require.ErrorIs(t, err, ErrConflict)
		})
	})
}

func TestFindAccountByName(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		acc := &ProviderAccount{Name: "main", Kind: "sandbox", Config: json.RawMessage(`{"latency_ms":1}`), Weight: 2, Enabled: true, CallbackToken: "tok"}
		require.NoError(t, db.CreateAccount(ctx, acc))

		t.Run("OK", func(t *testing.T) {
			got, err := db.FindAccountByName(ctx, "main")
			require.NoError(t, err)
			require.JSONEq(t, string(acc.Config), string(got.Config))
			got.Config, got.ConfigEnc = acc.Config, acc.ConfigEnc
			require.Equal(t, acc, got)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.FindAccountByName(ctx, "nope")
			require.ErrorIs(t, err, ErrNotFound)
		})
		t.Run("ErrConflict", func(t *testing.T) {
			for range 2 {
				require.NoError(t, db.CreateAccount(ctx, &ProviderAccount{Name: "twice", Kind: "sandbox", Config: json.RawMessage(`{}`)}))
			}
			_, err := db.FindAccountByName(ctx, "twice")
			require.ErrorIs(t, err, ErrConflict)
		})
	})
}

func TestUpdateTemplate(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		tpl := &Template{Name: "a", ContentType: "text", Content: "Hi {{x}}", Variables: []string{"x"}, Description: "d"}
		require.NoError(t, db.CreateTemplate(ctx, tpl))

		t.Run("OK", func(t *testing.T) {
			require.NoError(t, db.UpdateTemplate(ctx, tpl.ID, TemplatePatch{
				Name: ptr("b"), ContentType: ptr("html"), Subject: ptr("S {{y}}"), Content: ptr("<p>{{x}}</p>"),
				Variables: ptr([]string{"x", "y"}), Description: ptr("e"),
			}))
			got, err := db.GetTemplate(ctx, tpl.ID)
			require.NoError(t, err)
			require.Equal(t, "b", got.Name)
			require.Equal(t, "html", got.ContentType)
			require.Equal(t, "S {{y}}", got.Subject)
			require.Equal(t, "<p>{{x}}</p>", got.Content)
			require.Equal(t, []string{"x", "y"}, got.Variables)
			require.Equal(t, "e", got.Description)
			require.False(t, got.UpdatedAt.Before(got.CreatedAt))
		})
		t.Run("Partial", func(t *testing.T) {
			require.NoError(t, db.UpdateTemplate(ctx, tpl.ID, TemplatePatch{Description: ptr("f")}))
			got, err := db.GetTemplate(ctx, tpl.ID)
			require.NoError(t, err)
			require.Equal(t, "f", got.Description)
			require.Equal(t, "b", got.Name)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			require.ErrorIs(t, db.UpdateTemplate(ctx, tpl.ID+100, TemplatePatch{Name: ptr("x")}), ErrNotFound)
		})
	})
}

func TestUpdateRuleAndListAllRules(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		on := &Rule{Name: "on", Scene: "send_failure", Action: "switch", Enabled: true}
		off := &Rule{Name: "off", Scene: "send_failure", Action: "fail", Enabled: false}
		require.NoError(t, db.CreateRule(ctx, on))
		require.NoError(t, db.CreateRule(ctx, off))

		t.Run("ListAllRules", func(t *testing.T) {
			got, err := db.ListAllRules(ctx)
			require.NoError(t, err)
			require.Equal(t, []Rule{*on, *off}, got)
		})
		t.Run("UpdateRule", func(t *testing.T) {
			require.NoError(t, db.UpdateRule(ctx, off.ID, RulePatch{
				Name: ptr("retry"), Scene: ptr("callback_failure"), Priority: ptr(3), ProviderKind: ptr("tencent"),
				MessageType: ptr("sms"), ErrorCodes: ptr("A,B"), ErrorKeywords: ptr("timeout"), Action: ptr("alert"),
				MaxRetry: ptr(2), DelaySeconds: ptr(5), BackoffRate: ptr(1.5), ThenAction: ptr("retry"), Enabled: ptr(true),
			}))
			got, err := db.ListRules(ctx, "callback_failure")
			require.NoError(t, err)
			require.Len(t, got, 1)
			r := got[0]
			require.Equal(t, off.ID, r.ID)
			require.Equal(t, Rule{
				ID: off.ID, Name: "retry", Scene: "callback_failure", Priority: 3, ProviderKind: "tencent",
				MessageType: "sms", ErrorCodes: "A,B", ErrorKeywords: "timeout", Action: "alert",
				MaxRetry: 2, DelaySeconds: 5, BackoffRate: 1.5, ThenAction: "retry", Enabled: true,
				CreatedAt: off.CreatedAt, UpdatedAt: r.UpdatedAt, Version: 2,
			}, r)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			require.ErrorIs(t, db.UpdateRule(ctx, on.ID+100, RulePatch{Enabled: ptr(false)}), ErrNotFound)
		})
	})
}
