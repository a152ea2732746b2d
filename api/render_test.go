package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/store"
)

// storedMessage sends body and returns the message row it created.
func storedMessage(t *testing.T, f *fixture, body string) *store.Message {
	t.Helper()
	data := decodeData(t, f.call(t, http.MethodPost, "/api/v1/messages", body))
	m, err := f.store.GetMessage(t.Context(), data["task_id"].(string))
	require.NoError(t, err)
	return m
}

func TestParametersAreEscaped(t *testing.T) {
	t.Parallel()
	t.Run("OK_HTMLEmail", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		m := storedMessage(t, f, sendBody(chEmail, testEmail, `{"name":"<a href=\"https://evil.example\">Ann</a>"}`))
		require.Equal(t, `<p>Hi &lt;a href=&#34;https://evil.example&#34;&gt;Ann&lt;/a&gt; & welcome</p>`, m.Content, "the template's own markup stays")
		require.Equal(t, `Hello <a href="https://evil.example">Ann</a>`, m.Subject, "a subject is plain text, not HTML")
		require.Equal(t, `<a href="https://evil.example">Ann</a>`, m.TemplateParams["name"], "parameters are stored as given")
	})
	t.Run("OK_ChatMentionsAndLinks", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		m := storedMessage(t, f, sendBody(chWeCom, "u1", `{"text":"@all <at user_id=\"all\"></at> [login](https://evil.example) **now**"}`))
		body := strings.TrimPrefix(m.Content, "Alert: ")
		for _, markup := range []string{"@", "<", ">", "[", "]", "*"} {
			require.NotContains(t, body, markup, "content %q", m.Content)
		}
		require.Contains(t, body, "＠all")
	})
	t.Run("OK_SMSUnchanged", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		m := storedMessage(t, f, sendBody(chSMS, testPhone, `{"code":"<1&2>","minutes":"@5"}`))
		require.Equal(t, "Your code is <1&2>, valid @5 minutes", m.Content)
	})
}

func TestParameterAndSubjectChecks(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", maxParamValueLen+1)
	cases := []struct {
		name, body  string
		status      int
		code        int
		wantMessage string
		invalid     []string
	}{
		{"ErrParamTooLong", sendBody(chSMS, testPhone, `{"code":"`+long+`","minutes":"5"}`), 400, CodeTemplateParams, `"code" is longer than 1000 characters`, []string{"code"}},
		{"ErrSubjectParamWithLineBreak", sendBody(chEmail, testEmail, `{"name":"Ann\r\nBcc: victim@example.com"}`), 400, CodeTemplateParams, `"name" is used in the subject and must not contain line breaks`, []string{"name"}},
		{"ErrClientSubjectLineBreak", sendBody(chEmail, testEmail, `{"name":"Ann"}`, `"subject":"Hi\nBcc: victim@example.com"`), 400, CodeInvalidValue, "one line of plain text", nil},
		{"ErrClientSubjectTooLong", sendBody(chEmail, testEmail, `{"name":"Ann"}`, `"subject":"`+strings.Repeat("s", maxSubjectLen+1)+`"`), 400, CodeInvalidValue, "at most 200 characters", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			res := f.call(t, http.MethodPost, "/api/v1/messages", tc.body)
			requireError(t, res, tc.status, tc.code)
			require.Contains(t, res.Message, tc.wantMessage)
			if tc.invalid != nil {
				var data struct{ Invalid []string }
				require.NoError(t, json.Unmarshal(res.Data, &data))
				require.Equal(t, tc.invalid, data.Invalid)
			}
			require.Zero(t, f.store.messageCount())
		})
	}
	t.Run("OK_LineBreakOutsideTheSubject", func(t *testing.T) {
		t.Parallel()
		f := setup(t)
		m := storedMessage(t, f, sendBody(chWeCom, "u1", `{"text":"line one\nline two"}`))
		require.Equal(t, "Alert: line one\nline two", m.Content)
		m = storedMessage(t, f, sendBody(chEmail, testEmail, `{"name":"Ann"}`, `"subject":"`+strings.Repeat("s", maxSubjectLen)+`"`))
		require.Len(t, m.Subject, maxSubjectLen)
	})
}
