package providers_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

type stubProvider struct{ kind string }

func (p stubProvider) Kind() string                                        { return p.kind }
func (stubProvider) ValidateConfig(json.RawMessage) error                  { return nil }
func (stubProvider) NewSender(providers.Account) (providers.Sender, error) { return nil, nil }
func (stubProvider) ReceiptHandler() providers.ReceiptHandler              { return nil }

func TestRegistry(t *testing.T) {
	t.Parallel()
	r := providers.NewRegistry(stubProvider{"webhook"}, stubProvider{"aliyun"})
	require.Equal(t, []string{"aliyun", "webhook"}, r.Kinds())

	p, err := r.Get("aliyun")
	require.NoError(t, err)
	require.Equal(t, "aliyun", p.Kind())

	_, err = r.Get("pigeon")
	require.ErrorContains(t, err, `unknown provider kind "pigeon"`)
	require.ErrorContains(t, err, "aliyun webhook")

	require.PanicsWithValue(t, `providers: kind "sms" registered twice`, func() {
		providers.NewRegistry(stubProvider{"sms"}, stubProvider{"sms"})
	})
}

func TestAsError(t *testing.T) {
	t.Parallel()
	t.Run("Nil", func(t *testing.T) {
		require.Nil(t, providers.AsError(nil))
	})
	t.Run("Classified", func(t *testing.T) {
		pe := providers.Errorf(providers.ClassPermanent, "BAD_NUMBER", "receiver %s is not a number", "x")
		got := providers.AsError(fmt.Errorf("send: %w", pe))
		require.Same(t, pe, got)
		require.Equal(t, "permanent: BAD_NUMBER: receiver x is not a number", got.Error())
	})
	t.Run("UnclassifiedIsUnknownOutcome", func(t *testing.T) {
		cause := context.DeadlineExceeded
		got := providers.AsError(fmt.Errorf("post: %w", cause))
		require.Equal(t, providers.ClassUnknownOutcome, got.Class)
		require.True(t, errors.Is(got, cause))
	})
	t.Run("NoCode", func(t *testing.T) {
		require.Equal(t, "transient: try later", (&providers.Error{Class: providers.ClassTransient, Message: "try later"}).Error())
	})
}

func TestClassValid(t *testing.T) {
	t.Parallel()
	for _, c := range []providers.Class{providers.ClassTransient, providers.ClassThrottled, providers.ClassAccount,
		providers.ClassPermanent, providers.ClassConfig, providers.ClassUnknownOutcome} {
		require.True(t, c.Valid(), c)
	}
	require.False(t, providers.Class("fatal").Valid())
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	require.Equal(t, "task-1-3", providers.Message{TaskID: "task-1", Attempt: 3}.IdempotencyKey())
}
