package accounttest

import (
	"context"
	"github.com/heraldhq/herald/store/storetest"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/admin/resources"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// recordingEngine keeps the workflow starts it is asked for.
type recordingEngine struct {
	mu     sync.Mutex
	starts []workflows.SendInput
}

func (e *recordingEngine) StartSend(_ context.Context, in workflows.SendInput) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.starts = append(e.starts, in)
	return nil
}

func eachDialect(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	for _, d := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, openStore(t, d))
		})
	}
}

func openStore(t *testing.T, dialect string) *store.DB {
	t.Helper()
	rawURL := "sqlite://" + filepath.Join(t.TempDir(), "herald.db")
	if dialect == store.DialectPostgres {
		rawURL = createPostgresDatabase(t)
	}
	cipher, err := store.NewCipher(make([]byte, store.MasterKeySize))
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: rawURL, Cipher: cipher, ReceiverKeys: store.NewReceiverKeyer(make([]byte, store.MasterKeySize))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	return db
}

func createPostgresDatabase(t *testing.T) string {
	t.Helper()
	return storetest.PostgresURL(t, "herald_accounttest")
}

// fixture is an SMS channel with a one-variable template and two accounts
// in its pool, plus an account in no pool.
type fixture struct {
	ch                   *store.Channel
	pooled, other, loose *store.ProviderAccount
}

func newFixture(t *testing.T, db *store.DB) fixture {
	t.Helper()
	ctx := t.Context()
	tpl := &store.Template{Name: "verify", ContentType: "text", Content: "code {{code}}", Variables: []string{"code"}}
	require.NoError(t, db.CreateTemplate(ctx, tpl))
	ch := &store.Channel{Name: "sms", Type: store.ChannelSMS, TemplateID: &tpl.ID, Enabled: true, SignatureNames: []string{"Herald"}}
	require.NoError(t, db.CreateChannel(ctx, ch))
	mk := func(name string) *store.ProviderAccount {
		a := &store.ProviderAccount{Name: name, Kind: "sandbox", Config: []byte(`{}`), Weight: 1, Enabled: true}
		require.NoError(t, db.CreateAccount(ctx, a))
		return a
	}
	f := fixture{ch: ch, pooled: mk("a"), other: mk("b"), loose: mk("c")}
	require.NoError(t, db.SetPoolMember(ctx, ch.ID, f.pooled.ID, 1))
	require.NoError(t, db.SetPoolMember(ctx, ch.ID, f.other.ID, 9))
	return f
}

func requireProblem(t *testing.T, err error, status int, contains string) {
	t.Helper()
	p, ok := adminhttp.AsProblem(err)
	require.True(t, ok, "want a problem, got %v", err)
	require.Equal(t, status, p.Status, p.Message)
	require.Contains(t, p.Message, contains)
}

func TestTestAccountSendsThroughTheAccountOnly(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		eng := &recordingEngine{}
		tester := New(Deps{Store: db, Engine: eng})
		for range 2 { // the operators' app is created once and reused
			task, err := tester.TestAccount(t.Context(), resources.AccountTest{
				Account: f.pooled, Receiver: " 13800138000 ", TemplateParams: map[string]string{"code": "1234"}, Actor: "user:admin",
			})
			require.NoError(t, err)
			m, err := db.GetMessage(t.Context(), task)
			require.NoError(t, err)
			require.Equal(t, AppID, m.AppID)
			require.Equal(t, f.ch.ID, m.ChannelID)
			require.Equal(t, "+8613800138000", m.Receiver)
			require.Equal(t, "code 1234", m.Content)
			require.Equal(t, "Herald", m.SignatureName)
			require.Equal(t, workflows.StatusPending, m.Status)
			require.NotEmpty(t, m.ReceiverKey)
		}
		require.Len(t, eng.starts, 2)
		for _, in := range eng.starts {
			require.Equal(t, f.pooled.ID, in.ForceAccountID)
			require.Equal(t, AppID, in.AppID)
		}
		app, err := db.GetApp(t.Context(), AppID)
		require.NoError(t, err)
		require.True(t, app.Enabled)
		require.Len(t, app.Secret, 43, "a random secret of 32 bytes")
	})
}

func TestTestAccountRefusals(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		f := newFixture(t, db)
		eng := &recordingEngine{}
		tester := New(Deps{Store: db, Engine: eng})
		params := map[string]string{"code": "1"}
		send := func(acc *store.ProviderAccount, receiver string, params map[string]string) error {
			_, err := tester.TestAccount(ctx, resources.AccountTest{Account: acc, Receiver: receiver, TemplateParams: params})
			return err
		}

		requireProblem(t, send(f.loose, "+8613800138000", params), http.StatusConflict, "add it to a channel pool")

		disabled := *f.pooled
		disabled.Enabled = false
		requireProblem(t, send(&disabled, "+8613800138000", params), http.StatusConflict, "is disabled")

		err := send(f.pooled, "+8613800138000", map[string]string{"other": "1"})
		requireProblem(t, err, http.StatusBadRequest, "missing code; unknown other")
		p, _ := adminhttp.AsProblem(err)
		require.Equal(t, "template_params", p.Field)

		requireProblem(t, send(f.pooled, "not a phone", params), http.StatusBadRequest, "not a valid phone number")

		off := false
		require.NoError(t, db.UpdateChannel(ctx, f.ch.ID, store.ChannelPatch{Enabled: &off}))
		requireProblem(t, send(f.pooled, "+8613800138000", params), http.StatusConflict, "enable one")

		require.Empty(t, eng.starts, "a refused test starts nothing")
		_, err = db.GetApp(ctx, AppID)
		require.ErrorIs(t, err, store.ErrNotFound, "refusals before the send create no app")
	})
}
