package main

import (
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/api/admin"
	"github.com/heraldhq/herald/api/admin/messages"
	"github.com/heraldhq/herald/internal/accounttest"
	"github.com/heraldhq/herald/internal/adminclient"
	"github.com/heraldhq/herald/internal/adminhttp"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/workflows"
)

// TestAccountTestDeliversThroughThatAccount signs in to the operators' API
// of a running Herald and tests the lighter of two accounts in a pool: the
// test message goes through that account and no other, on behalf of the
// built-in operators' app.
func TestAccountTestDeliversThroughThatAccount(t *testing.T) {
	t.Parallel()
	h := sharedHarness(t)
	ctx := t.Context()
	f := h.fixture(t)
	ch := f.channel(store.ChannelSMS, f.template("test {{code}}", "code"))
	tested := f.sandboxAccount(ch, 1)
	f.sandboxAccount(ch, 1000) // the pool would nearly always pick this one
	loose := &store.ProviderAccount{Name: "loose-" + randomHex8(), Kind: "sandbox", Config: []byte(`{}`), Weight: 1, Enabled: true}
	require.NoError(t, h.db.CreateAccount(ctx, loose))

	users, err := cliUsers(h.s.db)
	require.NoError(t, err)
	name, password := "acctest"+randomHex8(), "a long test passphrase"
	_, err = users.Create(ctx, admin.Actor{Name: "cli:test"}, name, password, adminhttp.RoleOperator)
	require.NoError(t, err)
	creds, err := adminclient.Login(ctx, nil, h.apiURL, name, password)
	require.NoError(t, err)
	c := adminclient.New(creds, filepath.Join(t.TempDir(), "creds.json"), nil)

	var sent struct {
		TaskID string `json:"task_id"`
	}
	body := map[string]any{"receiver": "+8613800138000", "template_params": map[string]string{"code": "42"}}
	require.NoError(t, c.Do(ctx, http.MethodPost, "/accounts/"+strconv.FormatInt(tested.ID, 10)+"/test", nil, body, &sent))
	require.NotEmpty(t, sent.TaskID)

	var msg messages.DetailResponse
	deadline := time.Now().Add(90 * time.Second)
	for {
		require.NoError(t, c.Do(ctx, http.MethodGet, "/messages/"+sent.TaskID, nil, nil, &msg))
		if workflows.IsFinal(msg.Status) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, workflows.StatusSuccess, msg.Status, msg.LastError)
	require.Equal(t, accounttest.AppID, msg.AppID)
	require.Equal(t, ch.ID, msg.ChannelID)
	require.NotNil(t, msg.AccountID)
	require.Equal(t, tested.ID, *msg.AccountID)
	require.Equal(t, "test 42", msg.Content)

	err = c.Do(ctx, http.MethodPost, "/accounts/"+strconv.FormatInt(loose.ID, 10)+"/test", nil, body, nil)
	var apiErr *adminclient.Error
	require.True(t, errors.As(err, &apiErr), "want an API error, got %v", err)
	require.Equal(t, http.StatusConflict, apiErr.Status)
	require.Contains(t, apiErr.Message, "add it to a channel pool")
}
