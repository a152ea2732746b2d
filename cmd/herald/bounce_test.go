package main

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/providers/smtp/smtpfake"
	"github.com/heraldhq/herald/store"
)

// testSMTPHardBounce checks that an address the SMTP server refuses as
// unknown (550 5.1.1) is suppressed for the app that sent to it: the next
// send there is refused at accept with 10005, in any spelling, while
// another app may still send to it.
func testSMTPHardBounce(t *testing.T, h *harness) {
	f := h.fixture(t)
	fake := newSMTPFake(t)
	fake.FailNext(1, smtpfake.StageRcpt, 550, "5.1.1")
	ch := f.channel(store.ChannelEmail, f.template("Hi {{who}}", "who"))
	f.smtpAccount(ch, fake, 1)
	app, c := f.app()
	send := func(c *apiclient.Client, receiver string) (*apiclient.SendMessageResponse, error) {
		return c.SendMessage(context.Background(), apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: receiver, TemplateParams: map[string]string{"who": "you"}})
	}

	taskID := sendOne(t, c, apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: "Gone@Example.org", TemplateParams: map[string]string{"who": "you"}})
	requireRejected(t, c, taskID, "SMTP_550_5.1.1")

	sups, err := h.db.ListSuppressions(context.Background(), store.SuppressionFilter{AppID: app.ID})
	require.NoError(t, err)
	require.Len(t, sups, 1)
	require.Equal(t, store.SuppressionBounce, sups[0].Source)
	require.Equal(t, store.ChannelEmail, sups[0].ChannelType)
	require.Equal(t, "g***@example.org", sups[0].ReceiverMasked)

	for _, receiver := range []string{"Gone@Example.org", "gone@example.org"} {
		_, err = send(c, receiver)
		var apiErr *apiclient.APIError
		require.True(t, errors.As(err, &apiErr), "%s: want a refusal, got %v", receiver, err)
		require.Equal(t, 400, apiErr.HTTPStatus)
		require.Equal(t, 10005, apiErr.Code)
		require.Contains(t, apiErr.Message, "opted out of email")
	}

	// The suppression is the app's: another app still reaches the address.
	_, other := f.app()
	res, err := send(other, "gone@example.org")
	require.NoError(t, err)
	requireDelivered(t, other, res.TaskID)
	require.Len(t, fake.Sent(), 1)
}
