package main

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

func TestKeysRotateCommand(t *testing.T) {
	t.Parallel()
	s := newApplyStore(t)
	s.mustApply(nil, "apps:\n  - id: shop\n    name: Shop\n"+applyBase)
	oldKey, err := store.ParseMasterKey(cliMasterKey())
	require.NoError(t, err)
	newKey := []byte("fedcba9876543210fedcba9876543210")
	newKeyText := base64.StdEncoding.EncodeToString(newKey)

	// A message stored under the old key, as the service would store it.
	oldCipher, err := store.NewCipher(oldKey)
	require.NoError(t, err)
	db, err := store.Open(t.Context(), store.Options{URL: s.url, Cipher: oldCipher})
	require.NoError(t, err)
	require.NoError(t, db.CreateMessages(t.Context(), []*store.Message{{
		TaskID: "task-1", AppID: "shop", ChannelID: 1, MessageType: store.ChannelSMS, Receiver: "+8613800138000",
		Content: "code 1234", Status: "pending", MaxAttempts: 3,
	}}, nil))
	require.NoError(t, db.Close())

	res := runCLI(t, nil, s.args("keys", "index-key")...)
	require.Equal(t, 0, res.code, res.stderr)
	indexKey := strings.TrimSpace(res.stdout)
	require.Equal(t, base64.StdEncoding.EncodeToString(store.ReceiverIndexKey(oldKey)), indexKey)

	rotate := func(extra ...string) cliResult {
		args := append([]string{"keys", "rotate", "--database-url", s.url, "--master-key", newKeyText,
			"--previous-master-keys", cliMasterKey(), "--receiver-index-key", indexKey}, extra...)
		return runCLI(t, nil, args...)
	}

	t.Run("ErrReceiverIndexKeyNotPinned", func(t *testing.T) {
		res := runCLI(t, nil, "keys", "rotate", "--database-url", s.url, "--master-key", newKeyText, "--previous-master-keys", cliMasterKey())
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "receiver-index-key is required with previous-master-keys")
		require.NotContains(t, res.stderr, cliMasterKey(), "keys are never shown")
	})

	res = rotate("--dry-run")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "messages           done: 1 rows read, 1 to encrypt again")
	require.Contains(t, res.stdout, "apps               done: 1 rows read, 1 to encrypt again")

	res = rotate("--batch-size", "1")
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "messages           done: 1 rows read, 1 encrypted again")
	require.Contains(t, res.stdout, "run again to confirm")

	res = rotate()
	require.Equal(t, 0, res.code, res.stderr)
	require.Contains(t, res.stdout, "the store no longer needs previous-master-keys")

	// The old key is no longer needed: the new one alone reads everything,
	// and the pinned index key still finds the receiver.
	newCipher, err := store.NewCipher(newKey)
	require.NoError(t, err)
	ik, err := store.ParseMasterKey(indexKey)
	require.NoError(t, err)
	after, err := store.Open(t.Context(), store.Options{URL: s.url, Cipher: newCipher, ReceiverKeys: store.NewIndexReceiverKeyer(ik)})
	require.NoError(t, err)
	defer after.Close()
	m, err := after.GetMessage(t.Context(), "task-1")
	require.NoError(t, err)
	require.Equal(t, "code 1234", m.Content)
	app, err := after.GetApp(t.Context(), "shop")
	require.NoError(t, err)
	require.NotEmpty(t, app.Secret)
	var raw string
	require.NoError(t, after.Bun().NewRaw("SELECT content FROM messages").Scan(t.Context(), &raw))
	require.Equal(t, after.KeyID(), store.SealedKeyID(raw))

	t.Run("ErrBatchSize", func(t *testing.T) {
		res := rotate("--batch-size", "0")
		require.Equal(t, 1, res.code)
		require.Contains(t, res.stderr, "--batch-size must be from 1 to 10000")
	})
}
