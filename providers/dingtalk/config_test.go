package dingtalk

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	testToken  = "abcdef0123456789"
	testSecret = "SECabcdef"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		problems []string
	}{
		{"TokenOnly", Config{AccessToken: testToken}, nil},
		{"Everything", Config{AccessToken: testToken, Secret: testSecret, BaseURL: "http://127.0.0.1:8080/prefix", TimeoutMS: 500}, nil},
		{"WebhookURL", Config{WebhookURL: "https://oapi.dingtalk.com/robot/send?access_token=" + testToken, Secret: testSecret}, nil},
		{"Empty", Config{}, []string{"access_token or webhook_url is required"}},
		{"Both", Config{AccessToken: testToken, WebhookURL: "https://oapi.dingtalk.com/robot/send?access_token=x"}, []string{"not both"}},
		{"TokenWithURLCharacters", Config{AccessToken: "abc&sign=x"}, []string{"bare token"}},
		{"WholeURLAsToken", Config{AccessToken: "https://oapi.dingtalk.com/robot/send?access_token=x"}, []string{"bare token"}},
		{"WebhookWithoutToken", Config{WebhookURL: "https://oapi.dingtalk.com/robot/send"}, []string{"access_token query parameter"}},
		{"WebhookNotHTTP", Config{WebhookURL: "ftp://oapi.dingtalk.com/robot/send?access_token=x"}, []string{"https or http"}},
		{"WebhookNoHost", Config{WebhookURL: "https:///robot/send?access_token=x"}, []string{"include a host"}},
		{"WebhookWithSign", Config{WebhookURL: "https://oapi.dingtalk.com/robot/send?access_token=x&timestamp=1&sign=y"}, []string{"must not carry timestamp or sign"}},
		{"BaseURLWithWebhook", Config{WebhookURL: "https://oapi.dingtalk.com/robot/send?access_token=x", BaseURL: "https://proxy"}, []string{"base_url cannot be combined"}},
		{"BaseURLWithQuery", Config{AccessToken: testToken, BaseURL: "https://proxy?x=1"}, []string{"base_url must not carry"}},
		{"BaseURLNotHTTP", Config{AccessToken: testToken, BaseURL: "oapi.dingtalk.com"}, []string{"base_url must use https or http"}},
		{"SecretNotSEC", Config{AccessToken: testToken, Secret: testToken}, []string{`"SEC..." signing secret`}},
		{"SecretWithSpace", Config{AccessToken: testToken, Secret: "SECabc "}, []string{`"SEC..." signing secret`}},
		{"NegativeTimeout", Config{AccessToken: testToken, TimeoutMS: -1}, []string{"timeout_ms"}},
		{"HugeTimeout", Config{AccessToken: testToken, TimeoutMS: 120000}, []string{"timeout_ms"}},
		{"Several", Config{Secret: "x", TimeoutMS: -5}, []string{"access_token or webhook_url is required", "signing secret", "timeout_ms"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.cfg.Validate()
			if len(tc.problems) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, p := range tc.problems {
				require.ErrorContains(t, err, p)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"access_token":"` + testToken + `"}`))
		require.NoError(t, err)
		require.Equal(t, Config{AccessToken: testToken, BaseURL: DefaultBaseURL, TimeoutMS: DefaultTimeoutMS}, cfg)
		require.Equal(t, 10*time.Second, cfg.Timeout())
		endpoint, _, token := cfg.target()
		require.Equal(t, "https://oapi.dingtalk.com/robot/send", endpoint)
		require.Equal(t, testToken, token)
	})

	t.Run("WebhookURL", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"webhook_url":"https://oapi.dingtalk.com/robot/send?access_token=` + testToken + `","secret":"SECx","timeout_ms":2500}`))
		require.NoError(t, err)
		require.Empty(t, cfg.BaseURL)
		require.Equal(t, 2500*time.Millisecond, cfg.Timeout())
		endpoint, extra, token := cfg.target()
		require.Equal(t, "https://oapi.dingtalk.com/robot/send", endpoint)
		require.Empty(t, extra)
		require.Equal(t, testToken, token)
	})

	t.Run("NotAnObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`[1]`))
		require.ErrorContains(t, err, "config must be a JSON object")
	})

	t.Run("ProviderValidate", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, New().ValidateConfig(json.RawMessage(`{"access_token":"x"}`)))
		require.ErrorContains(t, New().ValidateConfig(json.RawMessage(`{}`)), "invalid dingtalk config")
	})
}

func TestConfigRedactsSecrets(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{AccessToken: "tok-SECRET-1", Secret: "SECsecret-2"},
		{WebhookURL: "https://oapi.dingtalk.com/robot/send?access_token=tok-SECRET-1", Secret: "SECsecret-2"},
	} {
		for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
			require.NotContains(t, s, "tok-SECRET-1")
			require.NotContains(t, s, "secret-2")
		}
	}
	require.Contains(t, Config{WebhookURL: "https://oapi.dingtalk.com/robot/send?access_token=x"}.String(), "https://oapi.dingtalk.com/robot/send?redacted")
}
