package activities

import (
	"context"

	"go.uber.org/zap"

	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// BounceStore is the part of the store that records e-mail hard bounces
// as suppressions.
type BounceStore interface {
	AddBounceSuppression(ctx context.Context, appID, receiverKey, masked, reason string) error
}

// WithBounces records a failed e-mail send whose provider reports a hard
// bounce of the receiver's address (providers.BounceClassifier) as a
// suppression of that receiver for the message's app, so the next message
// to it is refused at accept. keys must be the keyer the admission check
// uses. Without it nothing is recorded.
func WithBounces(st BounceStore, keys *store.ReceiverKeyer) Option {
	return func(a *Activities) {
		if st != nil && keys != nil {
			a.bounces, a.receiverKeys = st, keys
		}
	}
}

// recordBounce suppresses msg's receiver when pe is a hard bounce of it.
// A failure to record is logged and not returned: the send has failed
// either way, and retrying the activity would send the message again.
func (a *Activities) recordBounce(ctx context.Context, msg *store.Message, kind string, pe *providers.Error) {
	if a.bounces == nil || msg.MessageType != store.ChannelEmail || pe.Class != providers.ClassPermanent {
		return
	}
	prov, err := a.providers.Get(kind)
	if err != nil {
		return
	}
	bc, ok := prov.(providers.BounceClassifier)
	if !ok || !bc.HardBounce(pe.Code) {
		return
	}
	masked := store.MaskReceiver(store.ChannelEmail, msg.Receiver)
	err = a.bounces.AddBounceSuppression(ctx, msg.AppID, a.receiverKeys.Key(store.ChannelEmail, msg.Receiver), masked,
		"hard bounce: "+pe.Code)
	if err != nil {
		a.log.Warn("could not record a hard bounce", zap.String("app_id", msg.AppID),
			zap.String("receiver", masked), zap.String("code", pe.Code), zapErr(err))
		return
	}
	a.log.Info("hard bounce recorded: receiver suppressed", zap.String("app_id", msg.AppID),
		zap.String("receiver", masked), zap.String("code", pe.Code))
}
