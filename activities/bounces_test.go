package activities

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/providers/smtp"
	"github.com/heraldhq/herald/providers/smtp/smtpfake"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storetest"
)

// bounceWorld sends one e-mail through an SMTP fake and records bounces
// in a real database.
type bounceWorld struct {
	*world
	fake *smtpfake.Server
	db   *store.DB
	keys *store.ReceiverKeyer
}

const bounceReceiver = "Nobody@Example.org"

func setupBounces(t *testing.T) *bounceWorld {
	t.Helper()
	db, err := store.Open(t.Context(), store.Options{URL: storetest.PostgresURL(t, "herald_bounce")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	_, err = db.MigrateUp(t.Context())
	require.NoError(t, err)
	master := make([]byte, store.MasterKeySize)
	_, err = rand.Read(master)
	require.NoError(t, err)

	bw := &bounceWorld{world: setup(t), fake: smtpfake.New(t), db: db, keys: store.NewReceiverKeyer(master)}
	cfg := fmt.Sprintf(`{"host":%q,"port":%d,"from":"alerts@shop.example","tls_mode":"none","timeout_seconds":5}`, bw.fake.Host(), bw.fake.Port())
	acc := store.ProviderAccount{ID: 41, Name: "mail", Kind: smtp.Kind, Config: json.RawMessage(cfg), Weight: 1, Enabled: true, UpdatedAt: now}
	bw.st.accounts[acc.ID] = acc
	ch := bw.st.channels[3]
	ch.Type = store.ChannelEmail
	bw.st.channels[3] = ch
	m := bw.st.messages[taskID]
	m.MessageType, m.Receiver, m.Subject = store.ChannelEmail, bounceReceiver, "Your code"
	bw.st.messages[taskID] = m
	bw.acts = New(Config{CallbackBaseURL: "https://herald.example"}, bw.st, providers.NewRegistry(smtp.New()), nil,
		WithClock(func() time.Time { return now }), WithBounces(db, bw.keys))
	return bw
}

// suppressed lists the app's e-mail suppressions of the receiver.
func (bw *bounceWorld) suppressed(t *testing.T) []store.Suppression {
	t.Helper()
	got, err := bw.db.ListSuppressions(context.Background(), store.SuppressionFilter{
		AppID: "app-1", ChannelType: store.ChannelEmail, ReceiverKey: bw.keys.Key(store.ChannelEmail, bounceReceiver),
	})
	require.NoError(t, err)
	return got
}

func TestSendRecordsHardBounces(t *testing.T) {
	t.Parallel()
	req := SendRequest{TaskID: taskID, AccountID: 41, Attempt: 1}

	for _, enhanced := range []string{"5.1.1", "5.1.0", "5.1.2", "5.1.10"} {
		t.Run("Bounce"+enhanced, func(t *testing.T) {
			t.Parallel()
			bw := setupBounces(t)
			bw.fake.FailNext(1, smtpfake.StageRcpt, 550, enhanced)
			_, err := runSend(t, bw.acts, req)
			f := requireFailure(t, err, providers.ClassPermanent)
			require.Equal(t, "SMTP_550_"+enhanced, f.Code)

			got := bw.suppressed(t)
			require.Len(t, got, 1)
			require.Equal(t, store.SuppressionBounce, got[0].Source)
			require.Equal(t, "n***@example.org", got[0].ReceiverMasked)
			require.Equal(t, "hard bounce: SMTP_550_"+enhanced, got[0].Reason)
			keys, err := bw.db.SuppressedKeys(context.Background(), "app-1", store.ChannelEmail,
				[]string{bw.keys.Key(store.ChannelEmail, "nobody@example.org")})
			require.NoError(t, err)
			require.Len(t, keys, 1, "any spelling of the address is suppressed")

			// A second bounce of the same receiver keeps the first entry.
			bw.fake.FailNext(1, smtpfake.StageRcpt, 550, "5.1.1")
			_, err = runSend(t, bw.acts, req)
			requireFailure(t, err, providers.ClassPermanent)
			require.Len(t, bw.suppressed(t), 1)
		})
	}
	notBounces := []struct {
		name     string
		stage    smtpfake.Stage
		code     int
		enhanced string
		class    providers.Class
	}{
		{"PolicyRefusal", smtpfake.StageRcpt, 550, "5.7.1", providers.ClassAccount},
		{"NoEnhancedCode", smtpfake.StageRcpt, 550, "", providers.ClassPermanent},
		{"MailboxFull", smtpfake.StageRcpt, 552, "5.2.2", providers.ClassPermanent},
		{"Transient", smtpfake.StageRcpt, 450, "4.1.1", providers.ClassTransient},
		{"SenderAddress", smtpfake.StageMail, 550, "5.1.1", providers.ClassConfig},
	}
	for _, tt := range notBounces {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			bw := setupBounces(t)
			bw.fake.FailNext(1, tt.stage, tt.code, tt.enhanced)
			_, err := runSend(t, bw.acts, req)
			requireFailure(t, err, tt.class)
			require.Empty(t, bw.suppressed(t))
		})
	}
	t.Run("Delivered", func(t *testing.T) {
		t.Parallel()
		bw := setupBounces(t)
		_, err := runSend(t, bw.acts, req)
		require.NoError(t, err)
		require.Len(t, bw.fake.Sent(), 1)
		require.Empty(t, bw.suppressed(t))
	})
	t.Run("WithoutBounces", func(t *testing.T) {
		t.Parallel()
		bw := setupBounces(t)
		bw.acts = New(Config{}, bw.st, providers.NewRegistry(smtp.New()), nil, WithClock(func() time.Time { return now }))
		bw.fake.FailNext(1, smtpfake.StageRcpt, 550, "5.1.1")
		_, err := runSend(t, bw.acts, req)
		requireFailure(t, err, providers.ClassPermanent)
		require.Empty(t, bw.suppressed(t))
	})
}
