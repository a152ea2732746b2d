package dingtalk

import (
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
		{"Dash", " - ", Mentions{}},
		{"All", "@all", Mentions{All: true}},
		{"AllUpper", "@ALL", Mentions{All: true}},
		{"Mobiles", "@13800000000,@13900000000", Mentions{Mobiles: []string{"13800000000", "13900000000"}}},
		{"WithoutAt", "13800000000", Mentions{Mobiles: []string{"13800000000"}}},
		{"Spaces", " @13800000000 , @13900000000 ,", Mentions{Mobiles: []string{"13800000000", "13900000000"}}},
		{"Duplicates", "@13800000000,@13800000000", Mentions{Mobiles: []string{"13800000000"}}},
		{"International", "@+1-4155550123", Mentions{Mobiles: []string{"+1-4155550123"}}},
		{"UserIDs", "@id:manager01,@id:ops", Mentions{UserIDs: []string{"manager01", "ops"}}},
		{"Mixed", "@all,@13800000000,@id:ops", Mentions{All: true, Mobiles: []string{"13800000000"}, UserIDs: []string{"ops"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseReceiver(tc.receiver)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	for name, receiver := range map[string]string{
		"Name":      "@bob",
		"Email":     "ops@example.com",
		"Short":     "@123",
		"EmptyID":   "@id:",
		"IDWithSep": "@id:a b",
	} {
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

func TestBuildMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		msg  providers.Message
		want string
	}{
		{"Text", providers.Message{Receiver: "-", Content: "disk full"},
			`{"msgtype":"text","text":{"content":"disk full"}}`},
		{"TextMentions", providers.Message{Receiver: "@13800000000,@id:ops", ContentType: "text/plain", Content: "disk full\n"},
			`{"msgtype":"text","text":{"content":"disk full\n@13800000000 @ops"},"at":{"atMobiles":["13800000000"],"atUserIds":["ops"]}}`},
		{"TextMentionAlreadyInContent", providers.Message{Receiver: "@13800000000", ContentType: "text", Content: "@13800000000 disk full"},
			`{"msgtype":"text","text":{"content":"@13800000000 disk full"},"at":{"atMobiles":["13800000000"]}}`},
		{"TextAll", providers.Message{Receiver: "@all", Content: "disk full"},
			`{"msgtype":"text","text":{"content":"disk full"},"at":{"isAtAll":true}}`},
		{"Markdown", providers.Message{Receiver: "@13800000000", ContentType: "markdown", Subject: "Deploy", Content: "### Deploy\n- <b>api</b> & web"},
			`{"msgtype":"markdown","markdown":{"title":"Deploy","text":"### Deploy\n- <b>api</b> & web\n\n@13800000000"},"at":{"atMobiles":["13800000000"]}}`},
		{"MarkdownTitleFromContent", providers.Message{ContentType: "text/markdown", Content: "\n## Disk alert on db-1\nbody"},
			`{"msgtype":"markdown","markdown":{"title":"Disk alert on db-1","text":"\n## Disk alert on db-1\nbody"}}`},
		{"ActionCard", providers.Message{Receiver: "-", ContentType: "action_card", Subject: "Approve", Content: "Leave request from Li",
			Params: []providers.Param{{Name: "url", Value: "https://example.com/a/1"}, {Name: "btn_title", Value: "Open"}}},
			`{"msgtype":"actionCard","actionCard":{"title":"Approve","text":"Leave request from Li","singleTitle":"Open","singleURL":"https://example.com/a/1"}}`},
		{"ActionCardDefaultButton", providers.Message{ContentType: "action_card", Subject: "Approve", Content: "x",
			Params: []providers.Param{{Name: "url", Value: "https://example.com/a/1"}}},
			`{"msgtype":"actionCard","actionCard":{"title":"Approve","text":"x","singleTitle":"View details","singleURL":"https://example.com/a/1"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := buildMessage(tc.msg)
			require.NoError(t, err)
			raw, err := json.Marshal(got)
			require.NoError(t, err)
			require.JSONEq(t, tc.want, string(raw))
		})
	}

	refused := []struct {
		name string
		msg  providers.Message
		code string
	}{
		{"EmptyContent", providers.Message{Content: " \n"}, CodeEmptyContent},
		{"HTML", providers.Message{ContentType: "html", Content: "<p>x</p>"}, CodeUnsupportedContent},
		{"ActionCardWithoutURL", providers.Message{ContentType: "action_card", Content: "x"}, CodeMissingParam},
		{"ActionCardMention", providers.Message{ContentType: "action_card", Receiver: "@all", Content: "x",
			Params: []providers.Param{{Name: "url", Value: "https://example.com"}}}, CodeMentionUnsupported},
		{"BadReceiver", providers.Message{Receiver: "bob", Content: "x"}, CodeInvalidReceiver},
	}
	for _, tc := range refused {
		t.Run("Refused/"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := buildMessage(tc.msg)
			requireLocal(t, err, tc.code)
		})
	}
}
