package store

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAccounts(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		acc := &ProviderAccount{
			Name: "tencent-main", Kind: "tencent", Config: json.RawMessage(`{"secret_id":"id","secret_key":"key","sdk_app_id":"1400"}`),
			Weight: 10, Enabled: true, CallbackToken: "tok",
		}
		require.NoError(t, db.CreateAccount(ctx, acc))
		require.NotZero(t, acc.ID)

		t.Run("Get", func(t *testing.T) {
			got, err := db.GetAccount(ctx, acc.ID)
			require.NoError(t, err)
			require.JSONEq(t, string(acc.Config), string(got.Config))
			require.Equal(t, acc.Config, got.Config, "config round-trips byte for byte")
			got.ConfigEnc, acc.ConfigEnc = nil, nil
			require.Equal(t, acc, got)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.GetAccount(ctx, acc.ID+100)
			require.ErrorIs(t, err, ErrNotFound)
			require.ErrorIs(t, db.UpdateAccount(ctx, acc.ID+100, AccountPatch{Weight: ptr(1)}), ErrNotFound)
		})
		t.Run("NilConfig", func(t *testing.T) {
			a := &ProviderAccount{Name: "sandbox", Kind: "sandbox"}
			require.NoError(t, db.CreateAccount(ctx, a))
			got, err := db.GetAccount(ctx, a.ID)
			require.NoError(t, err)
			require.Nil(t, got.Config)
		})
		t.Run("Update", func(t *testing.T) {
			cfg := json.RawMessage(`{"secret_key":"rotated"}`)
			require.NoError(t, db.UpdateAccount(ctx, acc.ID, AccountPatch{
				Name: ptr("renamed"), Config: &cfg, Weight: ptr(3), Enabled: ptr(false), CallbackToken: ptr("tok2"),
			}))
			got, err := db.GetAccount(ctx, acc.ID)
			require.NoError(t, err)
			require.Equal(t, "renamed", got.Name)
			require.Equal(t, cfg, got.Config)
			require.Equal(t, 3, got.Weight)
			require.False(t, got.Enabled)
			require.Equal(t, "tok2", got.CallbackToken)
		})
		t.Run("List", func(t *testing.T) {
			got, err := db.ListAccounts(ctx)
			require.NoError(t, err)
			require.Len(t, got, 2)
			require.Equal(t, "renamed", got[0].Name)
			require.Equal(t, "sandbox", got[1].Name)
			require.Less(t, got[0].ID, got[1].ID)
		})
		t.Run("Countries", func(t *testing.T) {
			a := &ProviderAccount{Name: "tencent-intl", Kind: "tencent", Countries: []string{"international"}}
			require.NoError(t, db.CreateAccount(ctx, a))
			got, err := db.GetAccount(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"international"}, got.Countries)
			require.NoError(t, db.UpdateAccount(ctx, a.ID, AccountPatch{Countries: &[]string{"CN", "HK"}}))
			got, err = db.GetAccount(ctx, a.ID)
			require.NoError(t, err)
			require.Equal(t, []string{"CN", "HK"}, got.Countries)
			require.NoError(t, db.UpdateAccount(ctx, a.ID, AccountPatch{Countries: &[]string{}}))
			got, err = db.GetAccount(ctx, a.ID)
			require.NoError(t, err)
			require.Empty(t, got.Countries)
		})
	})
}

func TestChannelPool(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *DB) {
		ctx := t.Context()
		ch := &Channel{Name: "c", Type: ChannelSMS, Enabled: true}
		require.NoError(t, db.CreateChannel(ctx, ch))
		var accs []*ProviderAccount
		for i, name := range []string{"a", "b", "c"} {
			a := &ProviderAccount{Name: name, Kind: "sandbox", Config: json.RawMessage(`{"n":` + string(rune('0'+i)) + `}`), Enabled: name != "b"}
			require.NoError(t, db.CreateAccount(ctx, a))
			accs = append(accs, a)
		}

		t.Run("Empty", func(t *testing.T) {
			pool, err := db.ChannelPool(ctx, ch.ID)
			require.NoError(t, err)
			require.NotNil(t, pool)
			require.Empty(t, pool)
		})
		t.Run("OrderedByAccountIncludingDisabled", func(t *testing.T) {
			// Added out of order.
			require.NoError(t, db.SetPoolMember(ctx, ch.ID, accs[2].ID, 30))
			require.NoError(t, db.SetPoolMember(ctx, ch.ID, accs[0].ID, 10))
			require.NoError(t, db.SetPoolMember(ctx, ch.ID, accs[1].ID, 20))
			pool, err := db.ChannelPool(ctx, ch.ID)
			require.NoError(t, err)
			require.Len(t, pool, 3)
			for i, m := range pool {
				require.Equal(t, accs[i].ID, m.Account.ID)
				require.Equal(t, (i+1)*10, m.Weight)
				require.Equal(t, accs[i].Config, m.Account.Config, "configs are opened")
			}
			require.False(t, pool[1].Account.Enabled)
		})
		t.Run("UpsertWeight", func(t *testing.T) {
			require.NoError(t, db.SetPoolMember(ctx, ch.ID, accs[0].ID, 99))
			pool, err := db.ChannelPool(ctx, ch.ID)
			require.NoError(t, err)
			require.Len(t, pool, 3)
			require.Equal(t, 99, pool[0].Weight)
		})
		t.Run("Remove", func(t *testing.T) {
			require.NoError(t, db.RemovePoolMember(ctx, ch.ID, accs[1].ID))
			require.ErrorIs(t, db.RemovePoolMember(ctx, ch.ID, accs[1].ID), ErrNotFound)
			pool, err := db.ChannelPool(ctx, ch.ID)
			require.NoError(t, err)
			require.Len(t, pool, 2)
			require.Equal(t, accs[0].ID, pool[0].Account.ID)
			require.Equal(t, accs[2].ID, pool[1].Account.ID)
		})
		t.Run("UnknownChannelOrAccount", func(t *testing.T) {
			require.ErrorIs(t, db.SetPoolMember(ctx, ch.ID+100, accs[0].ID, 1), ErrNotFound)
			require.ErrorIs(t, db.SetPoolMember(ctx, ch.ID, accs[0].ID+100, 1), ErrNotFound)
		})
		t.Run("OtherChannelSeparate", func(t *testing.T) {
			other := &Channel{Name: "other", Type: ChannelSMS}
			require.NoError(t, db.CreateChannel(ctx, other))
			require.NoError(t, db.SetPoolMember(ctx, other.ID, accs[1].ID, 5))
			pool, err := db.ChannelPool(ctx, other.ID)
			require.NoError(t, err)
			require.Len(t, pool, 1)
			require.Equal(t, accs[1].ID, pool[0].Account.ID)
		})
	})
}
