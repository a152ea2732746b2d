package main

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/apiclient"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestVerificationCapEndToEnd sends through the whole stack: a
// verification template lets one code a minute reach a receiver, and the
// second send is refused at accept, storing and sending nothing.
func TestVerificationCapEndToEnd(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	f := h.fixture(t)
	ctx := context.Background()
	tpl := f.template("Code {{code}}", "code")
	kind := store.TemplateKindVerification
	require.NoError(t, h.db.UpdateTemplate(ctx, tpl.ID, store.TemplatePatch{Kind: &kind}))
	ch := f.channel(store.ChannelSMS, tpl)
	f.sandboxAccount(ch, 1)
	_, c := f.app()

	receiver := "+8613800139001"
	req := apiclient.SendMessageRequest{ChannelID: ch.ID, Receiver: receiver, TemplateParams: map[string]string{"code": "1234"}}
	res, err := c.SendMessage(ctx, req)
	require.NoError(t, err)
	require.Equal(t, workflows.StatusSuccess, waitFinal(t, c, res.TaskID).Status)

	_, err = c.SendMessage(ctx, req)
	var apiErr *apiclient.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	require.Equal(t, http.StatusTooManyRequests, apiErr.HTTPStatus)
	require.Equal(t, 30001, apiErr.Code)
	require.Contains(t, apiErr.Message, "receiver cap of 1 per minute for template "+tpl.Name)
}
