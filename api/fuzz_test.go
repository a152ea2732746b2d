package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/heraldhq/herald/internal/render"
	"github.com/heraldhq/herald/providers"
	"github.com/heraldhq/herald/store"
)

// fuzzBatchMax is the batch cap of the fuzzed server: small, so the fuzzer
// reaches it.
const fuzzBatchMax = 5

// maxFuzzRequest bounds fuzzed bodies; the parsers are linear in them.
const maxFuzzRequest = 32 << 10

// FuzzSendRequest runs single and batch send bodies through the request
// parser and every check that runs before a message is stored, against the
// test catalogue (every readiness case of a channel). A refusal is always
// an *Error with a 4xx status (or the 503 of a channel that cannot send),
// never a panic or a 500; an accepted request keeps to the caps: 1 to
// BatchMaxSize receivers, receivers within their length limits and each
// index accepted or rejected exactly once, at most 10 attachments of at
// most 3 MiB in all, and content rendered without a declared placeholder
// left.
func FuzzSendRequest(f *testing.F) {
	for _, seed := range []struct {
		body  string
		batch bool
	}{
		{`{"channel_id":1,"receiver":"+8613800138000","template_params":{"code":"123456","minutes":"5"}}`, false},
		{`{"channel_id":"1","receiver":"13800138000","template_params":{"code":123456,"minutes":true},"signature_name":"Acme"}`, false},
		{`{"channel_id":1,"receivers":["+8613800138000","13800138000","bad",7,"+8613900139000"],"template_params":{"code":"1","minutes":"2"}}`, true},
		{`{"channel_id":2,"receiver":"User@Example.COM","template_params":{"name":"Ann"},"subject":"Hi","attachments":[{"filename":"a.txt","content_type":"text/plain","content_base64":"aGVsbG8="}]}`, false},
		{`{"channel_id":3,"receivers":["zhangsan","lisi","zhangsan"," ","a b"],"template_params":{"text":"{{text}} {{ code }}"}}`, true},
		{`{"channel_id":9,"receiver":"hook-1","template_params":[],"scheduled_at":"2030-01-02T15:04:05+08:00"}`, false},
		{`{"channel_id":6,"receiver":"x","template_params":{"a":"1"}}`, false},
		{`{"channel_id":1,"receivers":[],"template_params":{}}`, true},
		{`{"channel_id":-1}`, false},
		{`{"channel_id":1e3,"receiver":null}`, false},
		{`[1,2]`, true},
		{`{"channel_id":1,"receiver":"+8613800138000","template_params":{"code":{"x":1}}}`, false},
		{`{"a":`, false},
		{``, false},
	} {
		f.Add([]byte(seed.body), seed.batch)
	}
	fs := newFakeStore()
	seedCatalogue(fs)
	// The fuzzing app holds grants to the catalogue's usual channels (not
	// to the ungranted ones), like the app of the handler tests.
	const fuzzApp = "fuzz-app"
	fs.grant(fuzzApp, chSMS, chEmail, chWeCom, chDisabled, chNoTemplate, chBadTemplate, chNoAccount, chDegraded, chWebhook)
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never reached before a message is stored
	srv, err := New(Config{BatchMaxSize: fuzzBatchMax}, Deps{
		Store:     fs,
		Engine:    newFakeEngine(),
		Admission: newAdmission(f, fs, rdb),
		Redis:     rdb,
		Providers: providers.NewRegistry(fakeProvider{kind: providerKind}, fakeProvider{kind: "silent", noReceipts: true}),
		Logger:    zap.NewNop(),
	})
	require.NoError(f, err)

	f.Fuzz(func(t *testing.T, body []byte, batch bool) {
		if len(body) > maxFuzzRequest {
			t.Skip()
		}
		batchMax := 0
		if batch {
			batchMax = fuzzBatchMax
		}
		req, err := parseSendRequest(body, batchMax)
		if err != nil {
			requireClientError(t, err)
			return
		}
		if batch {
			require.GreaterOrEqual(t, len(req.Receivers), 1)
			require.LessOrEqual(t, len(req.Receivers), fuzzBatchMax)
		} else {
			require.NotEmpty(t, strings.TrimSpace(req.Receiver))
		}

		p, err := srv.prepare(context.Background(), fuzzApp, req)
		if err != nil {
			requireClientError(t, err)
			return
		}
		requireAttachmentsWithinCaps(t, p.attachments, srv.cfg.MaxAttachmentBytes)
		if !paramsHavePlaceholders(req.Params) {
			require.Empty(t, render.Placeholders(p.content), "a declared placeholder was left in %q", p.content)
		}

		receivers := []json.RawMessage{}
		if batch {
			receivers = req.Receivers
		} else {
			raw, err := json.Marshal(req.Receiver)
			require.NoError(t, err)
			receivers = append(receivers, raw)
		}
		accepted, rejected := classifyReceivers(p.channel.Type, receivers)
		seen := make([]int, len(receivers))
		for _, a := range accepted {
			seen[a.index]++
			requireReceiverWithinCaps(t, p.channel.Type, a.normalized)
		}
		for _, r := range rejected {
			seen[r.Index]++
			require.Contains(t, []int{CodeInvalidParams, CodeInvalidValue, CodeInvalidReceiver}, r.Code)
			require.NotEmpty(t, r.Message)
		}
		for i, n := range seen {
			require.Equal(t, 1, n, "receiver %d was judged %d times", i, n)
		}
	})
}

// requireClientError checks that err is the application error of a request
// the client must change: a 4xx, or the 503 of a channel that cannot send
// until an operator fixes it.
func requireClientError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	require.True(t, errors.As(err, &e), "want *Error, got %T: %v", err, err)
	require.NotEmpty(t, e.Message)
	if e.Status == http.StatusServiceUnavailable {
		require.Contains(t, []int{CodeTemplateNotFound, CodeNoProvider}, e.Code, e.Error())
		return
	}
	require.GreaterOrEqual(t, e.Status, 400, e.Error())
	require.Less(t, e.Status, 500, e.Error())
}

func requireAttachmentsWithinCaps(t *testing.T, raw json.RawMessage, maxBytes int64) {
	t.Helper()
	if raw == nil {
		return
	}
	var atts []providers.Attachment
	require.NoError(t, json.Unmarshal(raw, &atts))
	require.LessOrEqual(t, len(atts), maxAttachments)
	var total int64
	for _, a := range atts {
		require.NotEmpty(t, a.Filename)
		require.LessOrEqual(t, len(a.Filename), maxAttachmentName)
		total += int64(len(a.Content))
	}
	require.LessOrEqual(t, total, maxBytes)
}

func requireReceiverWithinCaps(t *testing.T, channelType, normalized string) {
	t.Helper()
	require.NotEmpty(t, normalized)
	switch channelType {
	case store.ChannelSMS:
		// E.164: a plus and at most 15 digits.
		require.True(t, strings.HasPrefix(normalized, "+"), normalized)
		require.LessOrEqual(t, len(normalized), 16, normalized)
	case store.ChannelEmail:
		require.LessOrEqual(t, len(normalized), maxEmailLen)
		require.Contains(t, normalized, "@")
	default:
		require.LessOrEqual(t, utf8.RuneCountInString(normalized), maxUserIDLen)
		require.Equal(t, strings.TrimSpace(normalized), normalized)
	}
}

func paramsHavePlaceholders(params map[string]string) bool {
	for _, v := range params {
		if strings.Contains(v, "{") || strings.Contains(v, "}") {
			return true
		}
	}
	return false
}
