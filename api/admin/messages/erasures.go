package messages

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
)

// ErasureRequest asks for the personal data of one receiver to be erased.
type ErasureRequest struct {
	// Receiver is the phone number (E.164, as stored), address or user id.
	Receiver string `json:"receiver"`
	// ChannelType, if set, narrows the erasure to that channel type.
	ChannelType string `json:"channel_type,omitempty"`
	// Reason says why, for the audit log ("data subject request 2026-118").
	Reason string `json:"reason"`
	// KeepSuppressions keeps the receiver's opt-outs, keyed only, so they
	// still hold; by default they are deleted with the rest.
	KeepSuppressions bool `json:"keep_suppressions,omitempty"`
}

// Erasure is the answer to an ErasureRequest.
type Erasure struct {
	// ReceiverMasked is the receiver as the audit log records it.
	ReceiverMasked string `json:"receiver_masked"`
	// MessagesErased counts final messages whose personal data was erased.
	MessagesErased int `json:"messages_erased"`
	// RepliesErased counts the reply texts erased from their timelines.
	RepliesErased int `json:"replies_erased"`
	// SuppressionsErased counts opt-outs deleted, or with
	// keep_suppressions, stripped to their keyed form.
	SuppressionsErased int `json:"suppressions_erased"`
	// InFlight counts messages to the receiver not yet final, which are
	// left alone; erase again once they have finished.
	InFlight int `json:"in_flight"`
}

// Limits of an erasure request.
const (
	maxReceiverLen = 320
	maxReasonLen   = 500
)

// eraseReceiver erases a receiver's personal data from every app: the
// personal data of its final messages and their replies, and its opt-outs.
// Messages are found by the receiver's keyed hash only. The audit record
// names the receiver in its masked form, never in full.
func (h *handlers) eraseReceiver(c echo.Context) error {
	var req ErasureRequest
	if err := json.NewDecoder(c.Request().Body).Decode(&req); err != nil {
		return adminhttp.Invalid("body", "body must be a JSON object {receiver, channel_type, reason, keep_suppressions}")
	}
	req.Receiver = strings.TrimSpace(req.Receiver)
	req.Reason = strings.TrimSpace(req.Reason)
	switch {
	case req.Receiver == "":
		return adminhttp.Invalid("receiver", "receiver is required: a phone number in E.164 (+8613800138000), an address or a user id")
	case len(req.Receiver) > maxReceiverLen:
		return adminhttp.Invalid("receiver", "receiver is longer than any phone number or address (320 characters)")
	case req.ChannelType != "" && !slices.Contains(store.ChannelTypes, req.ChannelType):
		return adminhttp.Invalid("channel_type", "channel_type must be one of "+strings.Join(store.ChannelTypes, ", ")+", or left out for all")
	case req.Reason == "":
		return adminhttp.Invalid("reason", "reason is required: say why the data is erased (it goes to the audit log)")
	case utf8.RuneCountInString(req.Reason) > maxReasonLen:
		return adminhttp.Invalid("reason", "reason must be at most 500 characters")
	}
	keys := ReceiverKeys(h.Keys, req.Receiver)
	maskAs := store.ChannelSMS
	if req.ChannelType != "" {
		keys, maskAs = []string{h.Keys.Key(req.ChannelType, req.Receiver)}, req.ChannelType
	} else if strings.Contains(req.Receiver, "@") {
		maskAs = store.ChannelEmail
	}
	out := Erasure{ReceiverMasked: store.MaskReceiver(maskAs, req.Receiver)}
	// The erasure outlives a client that hangs up: half an erasure is
	// finished rather than left for the operator to notice.
	ctx := context.WithoutCancel(c.Request().Context())
	f := store.EraseFilter{ReceiverKeys: keys, MessageType: req.ChannelType, Limit: store.MaxEraseBatch}
	for {
		r, err := h.Store.EraseMessages(ctx, f)
		if err != nil {
			return adminhttp.Internal("erase messages", err)
		}
		out.MessagesErased += r.Messages
		out.RepliesErased += r.Replies
		if !r.More {
			break
		}
	}
	inFlight, err := h.Store.CountUnfinishedMessages(ctx, f)
	if err != nil {
		return adminhttp.Internal("count messages in flight", err)
	}
	out.InFlight = inFlight
	err = h.Store.RunInTx(ctx, func(ctx context.Context, tx *store.DB) error {
		n, err := tx.EraseSuppressions(ctx, keys, req.ChannelType, req.KeepSuppressions)
		if err != nil {
			return err
		}
		out.SuppressionsErased = n
		return tx.InsertAudit(ctx, adminhttp.AuditFor(c, "receiver.erase", "receiver", out.ReceiverMasked, map[string]any{
			"reason":              []any{nil, req.Reason},
			"channel_type":        []any{nil, req.ChannelType},
			"keep_suppressions":   []any{nil, req.KeepSuppressions},
			"messages_erased":     []any{nil, out.MessagesErased},
			"replies_erased":      []any{nil, out.RepliesErased},
			"suppressions_erased": []any{nil, n},
			"in_flight":           []any{nil, out.InFlight},
		}))
	})
	if err != nil {
		return adminhttp.Internal("erase suppressions", err)
	}
	h.Logger.Info("receiver erased", zap.Int("messages", out.MessagesErased),
		zap.Int("in_flight", out.InFlight))
	return c.JSON(http.StatusOK, out)
}
