package api

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/internal/traffic"
	"github.com/heraldhq/herald/store"
)

// Fixture ids of the expiry tests: a template with a ttl and a channel
// with a default ttl.
const (
	chShortTTL  int64 = 40
	tplShortTTL int64 = 40
	chTTLOnly   int64 = 41
	chVerify    int64 = 42
	tplVerify   int64 = 42
)

func TestSendMessageExpiry(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.store.putTemplate(store.Template{ID: tplShortTTL, Name: "otp-ttl", ContentType: "text", Content: "code {{code}}", Variables: []string{"code"}, TTLSeconds: 300})
	f.store.putChannel(store.Channel{ID: chShortTTL, Name: "ttl sms", Type: store.ChannelSMS, TemplateID: ptr(tplShortTTL), Enabled: true, DefaultTTLSeconds: 7200})
	f.store.putChannel(store.Channel{ID: chTTLOnly, Name: "channel ttl sms", Type: store.ChannelSMS, TemplateID: ptr(tplOTP), Enabled: true, DefaultTTLSeconds: 7200})
	f.store.putTemplate(store.Template{ID: tplVerify, Name: "otp-verify", ContentType: "text", Content: "code {{code}}", Variables: []string{"code"}, Kind: store.TemplateKindVerification})
	f.store.putChannel(store.Channel{ID: chVerify, Name: "verify sms", Type: store.ChannelSMS, TemplateID: ptr(tplVerify), Enabled: true, DefaultTTLSeconds: 7200})
	f.store.putAccount(store.ProviderAccount{ID: 40, Name: "ttl acc", Kind: providerKind, Enabled: true, CallbackToken: "tok-40"}, chShortTTL, chTTLOnly, chVerify)
	f.store.grant(f.app.ID, chShortTTL, chTTLOnly, chVerify)

	// accept sends body and returns the stored message, the workflow input's
	// expiry and the API's view of the message.
	accept := func(t *testing.T, body string) (*store.Message, time.Time, map[string]any) {
		t.Helper()
		taskID := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", body))["task_id"].(string)
		m, err := f.store.GetMessage(context.Background(), taskID)
		require.NoError(t, err)
		var in time.Time
		for _, s := range f.engine.startsCopy() {
			if s.TaskID == taskID {
				in = s.ExpiresAt
			}
		}
		view := decodeData(t, f.call(t, http.MethodGet, "/api/v1/messages/"+taskID, ""))
		return m, in, view
	}
	near := func(t *testing.T, want time.Time, got *time.Time) {
		t.Helper()
		require.NotNil(t, got)
		require.WithinDuration(t, want, *got, 5*time.Second)
	}

	t.Run("OK_ChannelDefault24h", func(t *testing.T) {
		t.Parallel()
		m, in, view := accept(t, sendBody(chSMS, testPhone, otpParamsJSON))
		near(t, time.Now().Add(traffic.DefaultChannelTTL), m.ExpiresAt)
		require.True(t, in.Equal(*m.ExpiresAt), "the workflow gets the expiry")
		require.Equal(t, m.ExpiresAt.UTC().Format(time.RFC3339), view["expires_at"])
		require.Equal(t, "normal", view["priority"])
	})
	t.Run("OK_ChannelOwnDefault", func(t *testing.T) {
		t.Parallel()
		m, _, _ := accept(t, sendBody(chTTLOnly, testPhone, otpParamsJSON))
		near(t, time.Now().Add(2*time.Hour), m.ExpiresAt)
	})
	t.Run("OK_TemplateDefault", func(t *testing.T) {
		t.Parallel()
		m, _, _ := accept(t, sendBody(chShortTTL, testPhone, `{"code":"1"}`))
		near(t, time.Now().Add(5*time.Minute), m.ExpiresAt)
	})
	t.Run("OK_VerificationTemplateDefault10m", func(t *testing.T) {
		t.Parallel()
		// A one-time code expires long before the channel's two hours.
		m, _, _ := accept(t, sendBody(chVerify, testPhone, `{"code":"1"}`))
		near(t, time.Now().Add(traffic.VerificationTTL), m.ExpiresAt)
		require.Equal(t, 10*time.Minute, traffic.VerificationTTL)
	})
	t.Run("OK_TTLFromSchedule", func(t *testing.T) {
		t.Parallel()
		at := time.Now().Add(time.Hour).Truncate(time.Second)
		m, _, _ := accept(t, sendBody(chShortTTL, testPhone, `{"code":"1"}`, fmt.Sprintf(`"scheduled_at":%q,"ttl_seconds":60`, at.Format(time.RFC3339))))
		near(t, at.Add(time.Minute), m.ExpiresAt)
	})
	t.Run("OK_ExpiresAtAndCritical", func(t *testing.T) {
		t.Parallel()
		at := time.Now().Add(90 * time.Second).Truncate(time.Second).In(time.FixedZone("CST", 8*3600))
		m, _, view := accept(t, sendBody(chSMS, testPhone, otpParamsJSON, fmt.Sprintf(`"expires_at":%q,"priority":"critical"`, at.Format(time.RFC3339))))
		require.True(t, at.Equal(*m.ExpiresAt))
		require.Equal(t, "critical", m.Priority)
		require.Equal(t, "critical", view["priority"])
	})

	for _, tc := range []struct {
		name, extra  string
		status, code int
		contains     string
	}{
		{"ErrBoth", `"ttl_seconds":60,"expires_at":"2099-01-01T00:00:00Z"`, 400, CodeInvalidValue, "not both"},
		{"ErrExpiresAtFormat", `"expires_at":"tomorrow"`, 400, CodeInvalidValue, "RFC 3339"},
		{"ErrExpiresAtPast", fmt.Sprintf(`"expires_at":%q`, time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)), 400, CodeInvalidValue, "expires_at must be in the future"},
		{"ErrExpiresAtBeforeSchedule", fmt.Sprintf(`"scheduled_at":%q,"expires_at":%q`, time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), 400, CodeInvalidValue, "after scheduled_at"},
		{"ErrExpiresAtTooFar", fmt.Sprintf(`"expires_at":%q`, time.Now().Add(31*24*time.Hour).UTC().Format(time.RFC3339)), 400, CodeInvalidValue, "30 days"},
		{"ErrTTLZero", `"ttl_seconds":0`, 400, CodeInvalidValue, "ttl_seconds must be between 1 and 2592000"},
		{"ErrTTLTooLong", `"ttl_seconds":2592001`, 400, CodeInvalidValue, "ttl_seconds"},
		{"ErrTTLNotInteger", `"ttl_seconds":1.5`, 400, CodeInvalidParams, "ttl_seconds must be an integer"},
		{"ErrTTLString", `"ttl_seconds":"60"`, 400, CodeInvalidParams, "ttl_seconds"},
		{"ErrPriority", `"priority":"urgent"`, 400, CodeInvalidValue, `priority must be "normal" or "critical"`},
		{"ErrPriorityType", `"priority":1`, 400, CodeInvalidParams, "priority must be a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := f.call(t, http.MethodPost, "/api/v1/messages", sendBody(chSMS, testPhone, otpParamsJSON, tc.extra))
			requireError(t, res, tc.status, tc.code)
			require.Contains(t, res.Message, tc.contains)
		})
	}
}

func TestSendBatchExpiry(t *testing.T) {
	t.Parallel()
	f := setup(t)
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		body := `{"channel_id":1,"template_params":` + otpParamsJSON + `,"receivers":["` + testPhone + `","` + testPhoneAlt + `"],"ttl_seconds":120,"priority":"critical"}`
		data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages/batch", body))
		tasks := data["tasks"].([]any)
		require.Len(t, tasks, 2)
		for _, task := range tasks {
			m, err := f.store.GetMessage(context.Background(), task.(map[string]any)["task_id"].(string))
			require.NoError(t, err)
			require.NotNil(t, m.ExpiresAt)
			require.WithinDuration(t, time.Now().Add(2*time.Minute), *m.ExpiresAt, 5*time.Second)
			require.Equal(t, "critical", m.Priority)
		}
		for _, in := range f.engine.startsCopy() {
			require.False(t, in.ExpiresAt.IsZero(), "every workflow gets its expiry")
		}
	})
	t.Run("ErrWholeBatch", func(t *testing.T) {
		t.Parallel()
		body := `{"channel_id":1,"template_params":` + otpParamsJSON + `,"receivers":["` + testPhone + `"],"ttl_seconds":-5}`
		res := f.call(t, http.MethodPost, "/api/v1/messages/batch", body)
		requireError(t, res, http.StatusBadRequest, CodeInvalidValue)
		require.Contains(t, res.Message, "ttl_seconds")
	})
}
