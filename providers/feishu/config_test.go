package feishu

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const testHook = "2f7c9a3e-5b1d-4e8f-a6c2-0d9b8e7f6a5c"

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      Config
		problems []string
	}{
		{"HookID", Config{HookID: testHook}, nil},
		{"Everything", Config{HookID: testHook, Secret: "s3cr3t", BaseURL: LarkBaseURL, TimeoutMS: 500}, nil},
		{"WebhookURL", Config{WebhookURL: "https://open.feishu.cn/open-apis/bot/v2/hook/" + testHook, Secret: "s"}, nil},
		{"LarkWebhookURL", Config{WebhookURL: "https://open.larksuite.com/open-apis/bot/v2/hook/" + testHook}, nil},
		{"Empty", Config{}, []string{"webhook_url or hook_id is required"}},
		{"Both", Config{HookID: testHook, WebhookURL: "https://open.feishu.cn/open-apis/bot/v2/hook/" + testHook}, []string{"not both"}},
		{"HookIDIsURL", Config{HookID: "https://open.feishu.cn/open-apis/bot/v2/hook/x"}, []string{"hook_id must be the last segment"}},
		{"WebhookWrongPath", Config{WebhookURL: "https://open.feishu.cn/open-apis/im/v1/messages"}, []string{"must end in /open-apis/bot/v2/hook/<hook id>"}},
		{"WebhookNoID", Config{WebhookURL: "https://open.feishu.cn/open-apis/bot/v2/hook/"}, []string{"must end in"}},
		{"WebhookExtraSegment", Config{WebhookURL: "https://open.feishu.cn/open-apis/bot/v2/hook/a/b"}, []string{"must end in"}},
		{"WebhookWithQuery", Config{WebhookURL: "https://open.feishu.cn/open-apis/bot/v2/hook/a?x=1"}, []string{"must not carry"}},
		{"WebhookNotHTTP", Config{WebhookURL: "ftp://open.feishu.cn/open-apis/bot/v2/hook/a"}, []string{"https or http"}},
		{"BaseURLWithWebhook", Config{WebhookURL: "https://open.feishu.cn/open-apis/bot/v2/hook/a", BaseURL: LarkBaseURL}, []string{"base_url cannot be combined"}},
		{"BaseURLBad", Config{HookID: testHook, BaseURL: "open.feishu.cn"}, []string{"base_url must use https or http"}},
		{"SecretSpaces", Config{HookID: testHook, Secret: " s "}, []string{"secret has leading or trailing spaces"}},
		{"BadTimeout", Config{HookID: testHook, TimeoutMS: 60001}, []string{"timeout_ms"}},
		{"Several", Config{Secret: " x", TimeoutMS: -1}, []string{"webhook_url or hook_id is required", "secret", "timeout_ms"}},
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
		cfg, err := ParseConfig(json.RawMessage(`{"hook_id":"` + testHook + `"}`))
		require.NoError(t, err)
		require.Equal(t, Config{HookID: testHook, BaseURL: DefaultBaseURL, TimeoutMS: DefaultTimeoutMS}, cfg)
		require.Equal(t, 10*time.Second, cfg.Timeout())
		require.Equal(t, "https://open.feishu.cn/open-apis/bot/v2/hook/"+testHook, cfg.hookURL())
	})

	t.Run("Lark", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"hook_id":"` + testHook + `","base_url":"https://open.larksuite.com/"}`))
		require.NoError(t, err)
		require.Equal(t, "https://open.larksuite.com/open-apis/bot/v2/hook/"+testHook, cfg.hookURL())
	})

	t.Run("WebhookURL", func(t *testing.T) {
		t.Parallel()
		u := "https://open.feishu.cn/open-apis/bot/v2/hook/" + testHook
		cfg, err := ParseConfig(json.RawMessage(`{"webhook_url":"` + u + `","secret":"s","timeout_ms":1500}`))
		require.NoError(t, err)
		require.Equal(t, u, cfg.hookURL())
		require.Empty(t, cfg.BaseURL)
	})

	t.Run("NotAnObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`"x"`))
		require.ErrorContains(t, err, "config must be a JSON object")
	})

	t.Run("ProviderValidate", func(t *testing.T) {
		t.Parallel()
		require.NoError(t, New().ValidateConfig(json.RawMessage(`{"hook_id":"x"}`)))
		require.ErrorContains(t, New().ValidateConfig(json.RawMessage(`{}`)), "invalid feishu config")
	})
}

func TestConfigRedactsSecrets(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{
		{HookID: "hook-SECRET-1", Secret: "secret-2"},
		{WebhookURL: "https://open.feishu.cn/open-apis/bot/v2/hook/hook-SECRET-1", Secret: "secret-2"},
	} {
		for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
			require.NotContains(t, s, "hook-SECRET-1")
			require.NotContains(t, s, "secret-2")
		}
	}
	require.Contains(t, Config{WebhookURL: "https://open.feishu.cn/open-apis/bot/v2/hook/x"}.String(),
		"https://open.feishu.cn/open-apis/bot/v2/hook/[redacted]")
}
