package messages

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// Task ids of TestEraseReceiver.
const (
	done1   = "00000000-0000-4000-8000-0000000000e1"
	done2   = "00000000-0000-4000-8000-0000000000e2"
	sending = "00000000-0000-4000-8000-0000000000e3"
	other   = "00000000-0000-4000-8000-0000000000e4"
)

func TestEraseReceiver(t *testing.T) {
	t.Parallel()
	for _, dialect := range testDialects() {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			f := setup(t, dialect)
			ctx := t.Context()
			const phone = "+8613800138000"
			msgs := []*store.Message{
				{TaskID: done1, AppID: "shop", ChannelID: 1, MessageType: store.ChannelSMS, Receiver: phone, Content: "code 1234", Status: workflows.StatusSuccess},
				{TaskID: done2, AppID: "blog", ChannelID: 2, MessageType: store.ChannelSMS, Receiver: phone, Content: "news", Status: workflows.StatusFailed},
				{TaskID: sending, AppID: "shop", ChannelID: 1, MessageType: store.ChannelSMS, Receiver: phone, Content: "code 5678", Status: workflows.StatusProcessing},
				{TaskID: other, AppID: "shop", ChannelID: 1, MessageType: store.ChannelSMS, Receiver: "+8613900139000", Content: "code 9", Status: workflows.StatusSuccess},
			}
			for _, m := range msgs {
				m.CreatedAt = f.now
			}
			require.NoError(t, f.db.CreateMessages(ctx, msgs, nil))
			require.NoError(t, f.db.AddEvent(ctx, &store.MessageEvent{TaskID: done1, Seq: 1, Kind: "reply", Detail: "TD", CreatedAt: f.now}))
			require.NoError(t, f.db.AddSuppression(ctx, &store.Suppression{AppID: "shop", ChannelType: store.ChannelSMS,
				ReceiverKey: f.keys.Key(store.ChannelSMS, phone), ReceiverMasked: store.MaskReceiver(store.ChannelSMS, phone), Reason: "replied TD", Source: store.SuppressionReply}))
			req := ErasureRequest{Receiver: phone, Reason: "data subject request 118"}

			t.Run("RefusedBelowAdmin", func(t *testing.T) {
				for _, role := range []string{"viewer", "operator"} {
					require.Equal(t, http.StatusForbidden, f.call(t, role, http.MethodPost, "/erasures", req, nil), role)
				}
				m, err := f.db.GetMessage(ctx, done1)
				require.NoError(t, err)
				require.Equal(t, phone, m.Receiver, "nothing erased")
			})
			t.Run("Invalid", func(t *testing.T) {
				for _, c := range []struct {
					field string
					body  any
				}{
					{"receiver", ErasureRequest{Reason: "x"}},
					{"reason", ErasureRequest{Receiver: phone}},
					{"channel_type", ErasureRequest{Receiver: phone, Reason: "x", ChannelType: "fax"}},
					{"receiver", ErasureRequest{Receiver: strings.Repeat("1", 321), Reason: "x"}},
					{"body", "not an object"},
				} {
					var p struct{ Code, Field, Message string }
					require.Equal(t, http.StatusBadRequest, f.call(t, "admin", http.MethodPost, "/erasures", c.body, &p), c.field)
					require.Equal(t, "invalid_input", p.Code)
					require.Equal(t, c.field, p.Field)
					require.NotEmpty(t, p.Message)
				}
			})
			t.Run("OK", func(t *testing.T) {
				var got Erasure
				require.Equal(t, http.StatusOK, f.call(t, "admin", http.MethodPost, "/erasures", req, &got))
				require.Equal(t, Erasure{ReceiverMasked: "+86138****8000", MessagesErased: 2, RepliesErased: 1, SuppressionsErased: 1, InFlight: 1}, got)
				for _, id := range []string{done1, done2} {
					m, err := f.db.GetMessage(ctx, id)
					require.NoError(t, err)
					require.Empty(t, m.Receiver)
					require.Empty(t, m.ReceiverKey)
					require.Empty(t, m.Content)
					require.NotNil(t, m.ErasedAt)
				}
				for id, receiver := range map[string]string{sending: phone, other: "+8613900139000"} {
					m, err := f.db.GetMessage(ctx, id)
					require.NoError(t, err)
					require.Equal(t, receiver, m.Receiver, id)
				}
				sup, err := f.db.ListSuppressions(ctx, store.SuppressionFilter{AppID: "shop"})
				require.NoError(t, err)
				require.Empty(t, sup)

				// The detail shows when the message was erased.
				var detail DetailResponse
				require.Equal(t, http.StatusOK, f.call(t, "operator", http.MethodGet, "/messages/"+done1, nil, &detail))
				require.NotNil(t, detail.ErasedAt)
				require.Empty(t, detail.Receiver)

				recs, err := f.db.ListAudit(ctx, store.AuditFilter{Action: "receiver.erase"})
				require.NoError(t, err)
				require.Len(t, recs, 1)
				require.Equal(t, "user:admin-user", recs[0].Actor)
				require.Equal(t, "receiver", recs[0].ObjectType)
				require.Equal(t, "+86138****8000", recs[0].ObjectID)
				raw, err := json.Marshal(recs[0])
				require.NoError(t, err)
				require.NotContains(t, string(raw), "13800138000", "the audit record never holds the receiver")
				require.Contains(t, string(raw), "data subject request 118")
				require.Equal(t, []any{nil, float64(2)}, recs[0].Diff["messages_erased"])
				require.Equal(t, []any{nil, float64(1)}, recs[0].Diff["in_flight"])

				// Once the last one has finished, a second request erases it.
				status := workflows.StatusSuccess
				require.NoError(t, f.db.UpdateMessage(ctx, sending, store.MessagePatch{Status: &status}))
				got = Erasure{}
				require.Equal(t, http.StatusOK, f.call(t, "admin", http.MethodPost, "/erasures", req, &got))
				require.Equal(t, Erasure{ReceiverMasked: "+86138****8000", MessagesErased: 1}, got)
			})
		})
	}
}
