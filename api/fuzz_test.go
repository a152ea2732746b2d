package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

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
	srv, err := New(Config{BatchMaxSize: fuzzBatchMax}, Deps{
		Store:     fs,
		Engine:    newFakeEngine(),
		Redis:     redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), // never reached before a message is stored
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

		p, err := srv.prepare(context.Background(), req)
		if err != nil {
			requireClientError(t, err)
			return
		}
		requireAttachmentsWithinCaps(t, p.attachments)
		if !paramsHavePlaceholders(req.Params) {
			require.Empty(t, placeholders(p.content), "a declared placeholder was left in %q", p.content)
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

func requireAttachmentsWithinCaps(t *testing.T, raw json.RawMessage) {
	t.Helper()
	if raw == nil {
		return
	}
	var atts []providers.Attachment
	require.NoError(t, json.Unmarshal(raw, &atts))
	require.LessOrEqual(t, len(atts), maxAttachments)
	total := 0
	for _, a := range atts {
		require.NotEmpty(t, a.Filename)
		require.LessOrEqual(t, len(a.Filename), maxAttachmentName)
		total += len(a.Content)
	}
	require.LessOrEqual(t, total, maxAttachmentBytes)
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

// FuzzRender checks template rendering on any template and parameter
// values. With a distinct marker for some of its variables, rendering
// replaces exactly those placeholders, leaves every other one as written,
// and reading the markers back as placeholders gives a template that
// renders to the same text (parse → render → parse). With any values, the
// output is never longer than the template plus each value once per
// placeholder it fills, and a value is never rendered again: a parameter
// cannot smuggle in another parameter's placeholder.
func FuzzRender(f *testing.F) {
	for _, seed := range [][3]string{
		{"Your code is {{code}}, valid {{ minutes }} minutes", "123456", "5"},
		{"<p>Hi {{name}} & welcome</p>{{name}}{{name}}", "{{code}}", ""},
		{"{{ {{a}} }} {{{b}}} {{c}}}}{{", "x", "y"},
		{"no placeholders at all", "v", "w"},
		{"{{a}}{{b}}{{a b}}{{}}{{ }}{{\t\na\n}}", "}}", "{{"},
		{"短信 {{验证码}} {{ code_2 }}", "一二三", "$1 ${a}"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, tpl, a, b string) {
		if len(tpl) > 4096 || len(a) > 1024 || len(b) > 1024 {
			t.Skip()
		}
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range placeholders(tpl) {
				if !yield(n) {
					return
				}
			}
		})
		occurrences := map[string]int{}
		for _, m := range placeholderRE.FindAllStringSubmatch(tpl, -1) {
			occurrences[m[1]]++
		}

		// Round trip with markers for every other variable.
		markers := map[string]string{}
		for i, n := range names {
			if i%2 == 0 {
				// A marker holds a space, so it can neither be read as a
				// placeholder nor complete one with the text around it.
				markers[n] = "\x00m " + n + " \x00"
			}
		}
		if !strings.Contains(tpl, "\x00") {
			out := render(tpl, markers)
			got := placeholders(out)
			for _, n := range names {
				_, known := markers[n]
				require.Equal(t, !known, got[n], "placeholder %q after rendering %q", n, out)
				if known {
					require.Equal(t, occurrences[n], strings.Count(out, markers[n]))
				}
			}
			require.Len(t, got, len(names)-len(markers), "rendering made new placeholders: %q", out)
			back := out
			for n, m := range markers {
				back = strings.ReplaceAll(back, m, "{{"+n+"}}")
			}
			require.Equal(t, placeholders(tpl), placeholders(back))
			require.Equal(t, out, render(back, markers))
		}

		// Any values: bounded output, no second expansion.
		require.Equal(t, tpl, render(tpl, nil), "rendering without parameters changes the text")
		params := map[string]string{}
		if len(names) > 0 {
			params[names[0]] = a
		}
		if len(names) > 1 {
			params[names[len(names)-1]] = b
		}
		out := render(tpl, params)
		bound := len(tpl)
		for n, v := range params {
			bound += len(v) * occurrences[n]
		}
		require.LessOrEqual(t, len(out), bound)
		if len(names) > 1 && !strings.Contains(tpl, "\x00") {
			// The first value names the last variable; it must stay as written.
			inject := map[string]string{names[0]: "{{" + names[len(names)-1] + "}}", names[len(names)-1]: "\x00"}
			require.Equal(t, occurrences[names[len(names)-1]], strings.Count(render(tpl, inject), "\x00"),
				"a parameter's value was rendered as a placeholder")
		}
	})
}
