package store

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func randomKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, MasterKeySize)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}

// sealedStore is a migrated store on a fresh database of the dialect
// whose URL it returns too, so a test can open more handles on it.
func sealedStore(t *testing.T, dialect string, keys *ReceiverKeyer, master []byte, previous ...[]byte) (*DB, string) {
	t.Helper()
	rawURL := testDatabaseURL(t, dialect)
	db := openKeyed(t, rawURL, keys, master, previous...)
	_, err := db.MigrateUp(t.Context())
	require.NoError(t, err)
	return db, rawURL
}

// openKeyed opens a store on rawURL sealing under master; a nil master
// opens one without a Cipher, which writes clear text as stores did
// before personal data was sealed.
func openKeyed(t *testing.T, rawURL string, keys *ReceiverKeyer, master []byte, previous ...[]byte) *DB {
	t.Helper()
	var c *Cipher
	if master != nil {
		var err error
		c, err = NewCipher(master, previous...)
		require.NoError(t, err)
	}
	db, err := Open(t.Context(), Options{URL: rawURL, Cipher: c, ReceiverKeys: keys})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

const (
	piiReceiver = "+8613912345678"
	piiContent  = "Your code is 482913, Ms Zhang"
	piiSubject  = "Order for Zhang Wei"
	piiParam    = "Zhang Wei"
	piiReply    = "TD please stop, this is Zhang"
	piiError    = "invalid mobile +8613912345678"
	piiFile     = "zhang-invoice.pdf"
	piiInputs   = `{"Failure":{"Message":"invalid mobile +8613912345678"}}`
)

// writePersonalData stores one message of each kind of personal data: a
// batch with attachments, its message with parameters, a reply event and
// a last error, and a re-drive whose filter names the receiver.
func writePersonalData(t *testing.T, db *DB, taskID string) {
	t.Helper()
	ctx := t.Context()
	batchID := "batch-" + taskID
	m := &Message{
		TaskID: taskID, BatchID: batchID, AppID: "app", ChannelID: 1, MessageType: ChannelSMS,
		Receiver: piiReceiver, Subject: piiSubject, Content: piiContent,
		TemplateParams: map[string]string{"name": piiParam}, Status: "pending", MaxAttempts: 3,
		Attachments: json.RawMessage(`[{"filename":"` + piiFile + `"}]`),
	}
	b := &Batch{ID: batchID, AppID: "app", ChannelID: 1, TotalCount: 1, Attachments: json.RawMessage(`[{"filename":"` + piiFile + `"}]`)}
	require.NoError(t, db.CreateMessages(ctx, []*Message{m}, b))
	acct := int64(7)
	require.NoError(t, db.RecordAccepted(ctx, taskID, acct, "pm-"+taskID, MessagePatch{LastError: ptr(piiError)},
		[]*MessageEvent{
			{Seq: 1, Kind: "reply", Status: "sent", Detail: piiReply},
			{Seq: 2, Kind: "decision", Status: "sent", Inputs: json.RawMessage(piiInputs)},
			{Seq: 3, Kind: "late_receipt", Status: "failed", Data: json.RawMessage(piiInputs)},
		}))
	// A batch accepted a moment ago, its receiver still staged.
	staged := "staged-" + taskID
	require.NoError(t, db.CreateBatch(ctx, &Batch{ID: staged, AppID: "app", ChannelID: 1, TotalCount: 1, SuccessCount: 1, WorkflowID: "batch-" + staged, Content: piiContent},
		&Message{AppID: "app", ChannelID: 1, MessageType: ChannelSMS, Status: "pending", MaxAttempts: 3}, []string{piiReceiver}))
	require.NoError(t, db.CreateRedrive(ctx, &Redrive{ID: "rd-" + taskID, Filter: `{"receiver":"` + piiReceiver + `"}`, Status: RedriveRunning}))
	require.NoError(t, db.InsertAudit(ctx, &AuditRecord{Actor: "user:alice", Action: "redrive.create", ObjectType: "redrive", ObjectID: "rd-" + taskID,
		Diff: map[string]any{"filter": []any{nil, `{"receiver":"` + piiReceiver + `"}`}}}))
}

// rawColumns reads every sealed text column as stored, with a plain query.
func rawColumns(t *testing.T, db *DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tbl := range sealedTables {
		for _, col := range tbl.text {
			var vals []*string
			require.NoError(t, db.Bun().NewRaw("SELECT "+col+" FROM "+tbl.name).Scan(t.Context(), &vals))
			for _, v := range vals {
				if v != nil && *v != "" {
					out[tbl.name+"."+col] = append(out[tbl.name+"."+col], *v)
				}
			}
		}
	}
	return out
}

// requireSealedUnder checks that no stored value holds personal data in
// clear and that every one is sealed under the key id.
func requireSealedUnder(t *testing.T, db *DB, keyID string) {
	t.Helper()
	raw := rawColumns(t, db)
	for _, col := range []string{"messages.receiver", "messages.subject", "messages.content", "messages.template_params",
		"messages.attachments", "messages.last_error", "batches.attachments", "batch_receivers.receivers", "message_events.detail", "message_events.inputs", "message_events.data", "redrives.filter", "audit_log.diff"} {
		require.NotEmpty(t, raw[col], "column %s has values", col)
	}
	for col, vals := range raw {
		for _, v := range vals {
			require.Equal(t, keyID, SealedKeyID(v), "%s is sealed under key %s: %.20q", col, keyID, v)
			for _, pii := range []string{"13912345678", "482913", "Zhang", piiFile} {
				require.NotContains(t, v, pii, "%s holds personal data in clear", col)
			}
		}
	}
}

// requireReadsClear checks that the store's reads return the clear text.
func requireReadsClear(t *testing.T, db *DB, taskID string) {
	t.Helper()
	ctx := t.Context()
	m, err := db.GetMessage(ctx, taskID)
	require.NoError(t, err)
	require.Equal(t, piiReceiver, m.Receiver)
	require.Equal(t, piiSubject, m.Subject)
	require.Equal(t, piiContent, m.Content)
	require.Equal(t, piiError, m.LastError)
	require.Equal(t, map[string]string{"name": piiParam}, m.TemplateParams)
	require.Empty(t, m.TemplateParamsText)
	require.JSONEq(t, `[{"filename":"`+piiFile+`"}]`, string(m.Attachments))
	b, err := db.GetBatch(ctx, m.BatchID)
	require.NoError(t, err)
	require.JSONEq(t, `[{"filename":"`+piiFile+`"}]`, string(b.Attachments))
	evs, err := db.ListEvents(ctx, taskID)
	require.NoError(t, err)
	require.Len(t, evs, 3)
	require.Equal(t, piiReply, evs[0].Detail)
	require.JSONEq(t, piiInputs, string(evs[1].Inputs))
	require.JSONEq(t, piiInputs, string(evs[2].Data))
	watched, err := db.ListEventsAfter(ctx, 0, MessageFilter{}, 0)
	require.NoError(t, err)
	require.NotEmpty(t, watched)
	for _, w := range watched {
		if w.TaskID == taskID && w.Seq == 1 {
			require.Equal(t, piiReceiver, w.Receiver)
			require.Equal(t, piiReply, w.Detail)
		}
	}
	ms, err := db.ListBatchMessages(ctx, m.BatchID)
	require.NoError(t, err)
	require.Equal(t, piiContent, ms[0].Content)
	rd, err := db.GetRedrive(ctx, "rd-"+taskID)
	require.NoError(t, err)
	require.JSONEq(t, `{"receiver":"`+piiReceiver+`"}`, rd.Filter)
	recs, err := db.ListAudit(ctx, AuditFilter{ObjectID: "rd-" + taskID})
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.Equal(t, map[string]any{"filter": []any{nil, `{"receiver":"` + piiReceiver + `"}`}}, recs[0].Diff)
}

func TestPersonalDataSealedAtRest(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			keys := NewReceiverKeyer(randomKey(t))
			master := randomKey(t)
			db, rawURL := sealedStore(t, d, keys, master)
			writePersonalData(t, db, "task-1")

			t.Run("NoClearTextStored", func(t *testing.T) {
				requireSealedUnder(t, db, db.cipher.KeyID())
			})
			t.Run("ReadsAreClear", func(t *testing.T) {
				requireReadsClear(t, db, "task-1")
			})
			t.Run("FindByReceiverSpellings", func(t *testing.T) {
				m, err := db.FindLatestMessageTo(ctx, 7, []string{"13912345678", piiReceiver})
				require.NoError(t, err)
				require.Equal(t, "task-1", m.TaskID)
				require.Equal(t, piiReceiver, m.Receiver)
				_, err = db.FindLatestMessageTo(ctx, 7, []string{"+8613900000000"})
				require.ErrorIs(t, err, ErrNotFound)
				_, err = db.FindLatestMessageTo(ctx, 8, []string{piiReceiver})
				require.ErrorIs(t, err, ErrNotFound, "another account's messages are not matched")
			})
			t.Run("ListByReceiverKey", func(t *testing.T) {
				ms, err := db.ListMessages(ctx, MessageFilter{ReceiverKeys: []string{keys.Key(ChannelSMS, piiReceiver)}})
				require.NoError(t, err)
				require.Len(t, ms, 1)
				require.Equal(t, piiContent, ms[0].Content)
			})
			t.Run("CallerKeepsClearText", func(t *testing.T) {
				m := newMessage("task-2")
				m.TemplateParams = map[string]string{"a": "b"}
				require.NoError(t, db.CreateMessages(ctx, []*Message{m}, nil))
				require.Equal(t, "+8613800000000", m.Receiver)
				require.Empty(t, m.TemplateParamsText)
				got, err := db.GetMessage(ctx, "task-2")
				require.NoError(t, err)
				require.Equal(t, m, got)
			})
			t.Run("WrongKeyCannotRead", func(t *testing.T) {
				other := openKeyed(t, rawURL, keys, randomKey(t))
				_, err := other.GetMessage(ctx, "task-1")
				require.ErrorIs(t, err, ErrUnknownKey)
				require.NotContains(t, err.Error(), "13912345678")
			})
		})
	}
}

func TestPersonalDataClearRowsStillRead(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			keys := NewReceiverKeyer(randomKey(t))
			db, rawURL := sealedStore(t, d, keys, randomKey(t))
			// A store without a Cipher or receiver keys writes rows as
			// they were before sealing: clear text, no receiver key.
			legacy := openKeyed(t, rawURL, nil, nil)
			writePersonalData(t, legacy, "old-1")
			raw := rawColumns(t, db)
			require.Contains(t, raw["messages.receiver"], piiReceiver)
			require.Contains(t, raw["message_events.detail"], piiReply)

			requireReadsClear(t, db, "old-1")
			m, err := db.FindLatestMessageTo(ctx, 7, []string{"13912345678", piiReceiver})
			require.NoError(t, err, "an unkeyed clear row is found by its receiver")
			require.Equal(t, "old-1", m.TaskID)

			// Sealing them needs no new key: Reseal seals clear text under
			// the current one and keys the receivers.
			got, err := db.Reseal(ctx, ResealOptions{BatchSize: 2})
			require.NoError(t, err)
			require.Equal(t, 1, progressOf(t, got, "messages").Keyed)
			requireSealedUnder(t, db, db.cipher.KeyID())
			requireReadsClear(t, db, "old-1")
			m, err = db.FindLatestMessageTo(ctx, 7, []string{"13912345678", piiReceiver})
			require.NoError(t, err)
			require.Equal(t, "old-1", m.TaskID)
			var key string
			require.NoError(t, db.Bun().NewRaw("SELECT receiver_key FROM messages WHERE task_id = 'old-1'").Scan(ctx, &key))
			require.Equal(t, keys.Key(ChannelSMS, piiReceiver), key)
		})
	}
}

func progressOf(t *testing.T, ps []ResealProgress, table string) ResealProgress {
	t.Helper()
	for _, p := range ps {
		if p.Table == table {
			require.True(t, p.Done)
			return p
		}
	}
	t.Fatalf("no progress for %s", table)
	return ResealProgress{}
}

func TestResealRotatesMasterKey(t *testing.T) {
	t.Parallel()
	for _, d := range testDialects() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			keys := NewReceiverKeyer(randomKey(t))
			oldKey, newKey := randomKey(t), randomKey(t)
			before, rawURL := sealedStore(t, d, keys, oldKey)
			for i := range 5 {
				writePersonalData(t, before, "task-"+string(rune('a'+i)))
			}
			app := &App{ID: "app-1", Name: "Shop", Secret: "s3cr3t", CallbackSecret: "whsec_abc", Enabled: true}
			require.NoError(t, before.CreateApp(ctx, app))
			acc := &ProviderAccount{Name: "main", Kind: "tencent", Config: json.RawMessage(`{"secret_key":"k"}`), Weight: 1, CallbackToken: "tok"}
			require.NoError(t, before.CreateAccount(ctx, acc))
			oldID := before.cipher.KeyID()
			oldSecrets := rawSecrets(t, before)

			// During the rotation the service seals under the new key and
			// still opens what the old one sealed.
			during := openKeyed(t, rawURL, keys, newKey, oldKey)
			require.NotEqual(t, oldID, during.cipher.KeyID())
			requireReadsClear(t, during, "task-a")
			writePersonalData(t, during, "task-new")

			t.Run("DryRunWritesNothing", func(t *testing.T) {
				got, err := during.Reseal(ctx, ResealOptions{DryRun: true})
				require.NoError(t, err)
				require.Equal(t, 5, progressOf(t, got, "messages").Resealed)
				require.Equal(t, 1, progressOf(t, got, "apps").Resealed)
				require.Equal(t, oldSecrets, rawSecrets(t, during))
			})

			var reports []ResealProgress
			got, err := during.Reseal(ctx, ResealOptions{BatchSize: 2, Progress: func(p ResealProgress) { reports = append(reports, p) }})
			require.NoError(t, err)
			msgs := progressOf(t, got, "messages")
			require.Equal(t, 6, msgs.Scanned)
			require.Equal(t, 5, msgs.Resealed, "the message written during the rotation is under the new key already")
			require.Zero(t, msgs.Skipped)
			require.Equal(t, 15, progressOf(t, got, "message_events").Resealed)
			require.Equal(t, 1, progressOf(t, got, "apps").Resealed)
			require.Equal(t, 1, progressOf(t, got, "provider_accounts").Resealed)
			require.Greater(t, len(reports), len(sealedTables), "progress is reported batch by batch")

			requireSealedUnder(t, during, during.cipher.KeyID())
			newSecrets := rawSecrets(t, during)
			for i := range oldSecrets {
				require.NotEqual(t, oldSecrets[i], newSecrets[i], "secret %d sealed again", i)
			}

			t.Run("Idempotent", func(t *testing.T) {
				again, err := during.Reseal(ctx, ResealOptions{})
				require.NoError(t, err)
				for _, p := range again {
					require.Zero(t, p.Resealed, p.Table)
				}
			})
			t.Run("OldKeyNoLongerNeeded", func(t *testing.T) {
				after := openKeyed(t, rawURL, keys, newKey)
				for _, id := range []string{"task-a", "task-e", "task-new"} {
					requireReadsClear(t, after, id)
				}
				gotApp, err := after.GetApp(ctx, "app-1")
				require.NoError(t, err)
				require.Equal(t, "s3cr3t", gotApp.Secret)
				require.Equal(t, "whsec_abc", gotApp.CallbackSecret)
				gotAcc, err := after.GetAccount(ctx, acc.ID)
				require.NoError(t, err)
				require.JSONEq(t, `{"secret_key":"k"}`, string(gotAcc.Config))
				require.Equal(t, "tok", gotAcc.CallbackToken)
				m, err := after.FindLatestMessageTo(ctx, 7, []string{piiReceiver})
				require.NoError(t, err, "receiver keys are unchanged by the rotation")
				require.Equal(t, piiReceiver, m.Receiver)
			})
			t.Run("OldKeyAloneCannotRead", func(t *testing.T) {
				stale := openKeyed(t, rawURL, keys, oldKey)
				_, err := stale.GetMessage(ctx, "task-a")
				require.ErrorIs(t, err, ErrUnknownKey)
				_, err = stale.GetApp(ctx, "app-1")
				require.ErrorIs(t, err, ErrDecrypt)
			})
		})
	}
}

// rawSecrets reads the sealed secrets as stored.
func rawSecrets(t *testing.T, db *DB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, q := range []string{"SELECT secret_enc FROM apps", "SELECT callback_secret_enc FROM apps", "SELECT config_enc FROM provider_accounts", "SELECT callback_token_enc FROM provider_accounts"} {
		var vals [][]byte
		require.NoError(t, db.Bun().NewRaw(q).Scan(t.Context(), &vals))
		out = append(out, vals...)
	}
	return out
}

func TestSealText(t *testing.T) {
	t.Parallel()
	oldKey, newKey := randomKey(t), randomKey(t)
	old, err := NewCipher(oldKey)
	require.NoError(t, err)
	both, err := NewCipher(newKey, oldKey)
	require.NoError(t, err)

	t.Run("RoundTrip", func(t *testing.T) {
		t.Parallel()
		s, err := old.SealText(piiContent)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(s, sealedTextPrefix+old.KeyID()+"$"))
		require.NotContains(t, s, "482913")
		again, err := old.SealText(piiContent)
		require.NoError(t, err)
		require.NotEqual(t, s, again, "each seal has its own nonce")
		plain, err := old.OpenText(s)
		require.NoError(t, err)
		require.Equal(t, piiContent, plain)
		plain, stale, err := both.openText(s)
		require.NoError(t, err)
		require.Equal(t, piiContent, plain)
		require.True(t, stale, "sealed under a previous key")
	})
	t.Run("EmptyStaysEmpty", func(t *testing.T) {
		t.Parallel()
		s, err := old.SealText("")
		require.NoError(t, err)
		require.Empty(t, s)
	})
	t.Run("ClearTextReadsAsIs", func(t *testing.T) {
		t.Parallel()
		for _, v := range []string{"+8613800000000", "$hd1$", "$hd1$nothex!!$abc", "plain $hd1$00000000$x"} {
			plain, err := old.OpenText(v)
			require.NoError(t, err, v)
			require.Equal(t, v, plain)
		}
		var none *Cipher
		plain, err := none.OpenText("clear")
		require.NoError(t, err)
		require.Equal(t, "clear", plain)
	})
	t.Run("ErrDecryptTampered", func(t *testing.T) {
		t.Parallel()
		s, err := old.SealText(piiContent)
		require.NoError(t, err)
		b := []byte(s)
		last := len(b) - 3
		b[last] = map[bool]byte{true: 'A', false: 'B'}[b[last] != 'A']
		_, err = old.OpenText(string(b))
		require.ErrorIs(t, err, ErrDecrypt)
	})
	t.Run("ErrUnknownKey", func(t *testing.T) {
		t.Parallel()
		s, err := both.SealText(piiContent)
		require.NoError(t, err)
		_, err = old.OpenText(s)
		require.ErrorIs(t, err, ErrUnknownKey)
		var none *Cipher
		_, err = none.OpenText(s)
		require.ErrorIs(t, err, ErrNoCipher)
	})
	t.Run("SecretsUnderPreviousKey", func(t *testing.T) {
		t.Parallel()
		ct, err := old.Encrypt([]byte("s3cr3t"))
		require.NoError(t, err)
		plain, current, err := both.decrypt(ct)
		require.NoError(t, err)
		require.Equal(t, "s3cr3t", string(plain))
		require.False(t, current)
		ct, err = both.Encrypt([]byte("s3cr3t"))
		require.NoError(t, err)
		_, err = old.Decrypt(ct)
		require.ErrorIs(t, err, ErrDecrypt)
	})
	t.Run("ErrBadPreviousKey", func(t *testing.T) {
		t.Parallel()
		_, err := NewCipher(newKey, []byte("short"))
		require.ErrorContains(t, err, "previous master key 1")
	})
}
