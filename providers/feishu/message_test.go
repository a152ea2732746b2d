package feishu

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func TestParseReceiver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		receiver string
		want     Mentions
	}{
		{"Empty", "", Mentions{}},
		{"Dash", "-", Mentions{}},
		{"All", "@all", Mentions{All: true}},
		{"OpenIDs", "@ou_84aad35d084aa403a838cf73ee18467, @ou_9f0", Mentions{UserIDs: []string{"ou_84aad35d084aa403a838cf73ee18467", "ou_9f0"}}},
		{"WithoutAt", "ou_1", Mentions{UserIDs: []string{"ou_1"}}},
		{"Duplicates", "@ou_1,@ou_1,", Mentions{UserIDs: []string{"ou_1"}}},
		{"Mixed", "@all,@ou_1", Mentions{All: true, UserIDs: []string{"ou_1"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReceiver(tc.receiver)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	for name, receiver := range map[string]string{"Email": "ops@example.com", "Quote": `@ou_1"><b`, "Space": "@ou 1"} {
		t.Run("Invalid/"+name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseReceiver(receiver)
			requireLocal(t, err, CodeInvalidReceiver)
		})
	}
}

func requireLocal(t *testing.T, err error, code string) {
	t.Helper()
	var pe *providers.Error
	require.True(t, errors.As(err, &pe), "want *providers.Error, got %v", err)
	require.Equal(t, providers.ClassPermanent, pe.Class)
	require.Equal(t, code, pe.Code)
}

func encode(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return buf.String()
}

func TestBuildMessage(t *testing.T) {
	t.Parallel()
	link := []providers.Param{{Name: "url", Value: "https://ci.example.com/runs/81"}, {Name: "btn_title", Value: "Open run"}}
	tests := []struct {
		name string
		msg  providers.Message
		want string
	}{
		{"Text", providers.Message{Receiver: "-", Content: "disk full"},
			`{"msg_type":"text","content":{"text":"disk full"}}`},
		{"TextMentions", providers.Message{Receiver: "@all,@ou_1", ContentType: "text/plain", Content: "disk full\n"},
			`{"msg_type":"text","content":{"text":"disk full <at user_id=\"all\">所有人</at> <at user_id=\"ou_1\"></at>"}}`},
		{"Post", providers.Message{Receiver: "@ou_1", ContentType: "post", Subject: "Deploy", Content: "api 1.4.2\n\nweb 2.0", Params: link},
			`{"msg_type":"post","content":{"post":{"zh_cn":{"title":"Deploy","content":[
				[{"tag":"text","text":"api 1.4.2"}],[{"tag":"text","text":""}],[{"tag":"text","text":"web 2.0"}],
				[{"tag":"a","text":"Open run","href":"https://ci.example.com/runs/81"}],
				[{"tag":"at","user_id":"ou_1"}]]}}}}`},
		{"Card", providers.Message{Receiver: "@all", ContentType: "interactive", Subject: "Deploy", Content: "**api** is live", Params: link},
			`{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},
				"header":{"title":{"tag":"plain_text","content":"Deploy"}},
				"elements":[{"tag":"div","text":{"tag":"lark_md","content":"**api** is live\n<at id=all></at>"}},
				{"tag":"action","actions":[{"tag":"button","text":{"tag":"plain_text","content":"Open run"},"type":"primary","url":"https://ci.example.com/runs/81"}]}]}}`},
		{"MarkdownIsCardWithoutHeader", providers.Message{ContentType: "markdown", Content: "# x"},
			`{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},
				"elements":[{"tag":"div","text":{"tag":"lark_md","content":"# x"}}]}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := buildMessage(tc.msg)
			require.NoError(t, err)
			require.JSONEq(t, tc.want, encode(t, got))
		})
	}

	refused := []struct {
		name string
		msg  providers.Message
		code string
	}{
		{"EmptyContent", providers.Message{Content: "  "}, CodeEmptyContent},
		{"HTML", providers.Message{ContentType: "text/html", Content: "<p>x</p>"}, CodeUnsupportedContent},
		{"BadReceiver", providers.Message{Receiver: "ops@example.com", Content: "x"}, CodeInvalidReceiver},
	}
	for _, tc := range refused {
		t.Run("Refused/"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := buildMessage(tc.msg)
			requireLocal(t, err, tc.code)
		})
	}
}
