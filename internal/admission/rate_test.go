package admission

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers/sandbox"
	"github.com/heraldhq/herald/providers/zrwinfo"
	"github.com/heraldhq/herald/store"
)

// uniqueApp names an app no other test run uses, since the message rate
// lives in the shared Redis under the app's id.
func uniqueApp(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "rate-" + hex.EncodeToString(b)
}

func TestMessageRateCountsOnlyAdmittedReceivers(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		app := uniqueApp(t)
		// A mainland-only pool: the two foreign numbers are refused for
		// their country, the mainland one is capped after its first send.
		ch := smsChannel()
		ch.ReceiverCaps = &store.ReceiverCaps{PerMinute: 1}
		req := func(receivers ...string) Request {
			return Request{AppID: app, Channel: ch, Pool: pool(zrwinfo.Kind), Receivers: receivers, MessagesPerMinute: 3}
		}
		v, err := f.svc.Admit(ctx, req("+8613800138000", "+14155550100", "+447700900123"))
		require.NoError(t, err)
		require.Nil(t, v[0])
		require.NotNil(t, v[1])
		require.NotNil(t, v[2])
		// Capped: refused, and takes nothing from the rate either.
		v, err = f.svc.Admit(ctx, req("+8613800138000"))
		require.NoError(t, err)
		require.NotNil(t, v[0])
		require.Equal(t, "receiver_cap", v[0].Rule)
		// One of three used: two more fit, a third does not.
		v, err = f.svc.Admit(ctx, req("+8613900139001", "+8613900139002"))
		require.NoError(t, err)
		require.Equal(t, []*Refusal{nil, nil}, v)
		_, err = f.svc.Admit(ctx, req("+8613900139003"))
		var rl *RateLimitedError
		require.ErrorAs(t, err, &rl)
		require.Equal(t, http.StatusTooManyRequests, rl.Status)
		require.Equal(t, CodeReceiverCapped, rl.Code)
		require.Positive(t, rl.RetryAfter)
		require.Contains(t, rl.Message, "3 messages per minute")
	})
}

func TestMessageRateRefusalGivesCapsBack(t *testing.T) {
	t.Parallel()
	eachRedis(t, func(t *testing.T, f *fixture) {
		ctx := t.Context()
		app := uniqueApp(t)
		ch := smsChannel()
		ch.ReceiverCaps = &store.ReceiverCaps{PerMinute: 1}
		many := Request{AppID: app, Channel: ch, Pool: pool(sandbox.Kind), MessagesPerMinute: 2,
			Receivers: []string{"+8613800138001", "+8613800138002", "+8613800138003"}}
		_, err := f.svc.Admit(ctx, many)
		var rl *RateLimitedError
		require.True(t, errors.As(err, &rl), "three receivers never fit in a rate of two: %v", err)
		require.Contains(t, rl.Message, "split it")
		// The refused request counted none of its receivers: each still
		// has its one message of the minute.
		for _, r := range many.Receivers[:2] {
			v, err := f.svc.Admit(ctx, Request{AppID: app, Channel: ch, Pool: pool(sandbox.Kind), MessagesPerMinute: 2, Receivers: []string{r}})
			require.NoError(t, err)
			require.Nil(t, v[0], "receiver cap given back")
		}
		// The rate is now used up; the refusal gives the third receiver's
		// cap back too.
		third := Request{AppID: app, Channel: ch, Pool: pool(sandbox.Kind), MessagesPerMinute: 2, Receivers: many.Receivers[2:]}
		_, err = f.svc.Admit(ctx, third)
		require.ErrorAs(t, err, &rl)
		third.MessagesPerMinute = 0
		v, err := f.svc.Admit(ctx, third)
		require.NoError(t, err)
		require.Nil(t, v[0])
	})
}
