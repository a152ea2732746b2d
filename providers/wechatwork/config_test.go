package wechatwork

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := Config{CorpID: "ww1234", CorpSecret: "secret", AgentID: 1000002}
	with := func(edit func(*Config)) Config {
		c := valid
		edit(&c)
		return c
	}
	tests := []struct {
		name     string
		cfg      Config
		problems []string
	}{
		{"OK", valid, nil},
		{"OKWithEverything", with(func(c *Config) { c.BaseURL = "http://127.0.0.1:8080/proxy/"; c.TimeoutSeconds = 30 }), nil},
		{"Empty", Config{}, []string{"corp_id is required", "corp_secret is required", "agent_id is required"}},
		{"NegativeAgent", with(func(c *Config) { c.AgentID = -1 }), []string{"agent_id"}},
		{"SpaceInCorpID", with(func(c *Config) { c.CorpID = "ww 1" }), []string{"corp_id must not contain spaces"}},
		{"SpaceInSecret", with(func(c *Config) { c.CorpSecret = "sec ret" }), []string{"corp_secret must not contain spaces"}},
		{"BaseURLScheme", with(func(c *Config) { c.BaseURL = "ftp://qyapi.weixin.qq.com" }), []string{"base_url must use http or https"}},
		{"BaseURLNoHost", with(func(c *Config) { c.BaseURL = "https://" }), []string{"base_url must include a host"}},
		{"BaseURLQuery", with(func(c *Config) { c.BaseURL = "https://qyapi.weixin.qq.com/?x=1" }), []string{"base_url must not have a query"}},
		{"BaseURLUser", with(func(c *Config) { c.BaseURL = "https://u:p@qyapi.weixin.qq.com" }), []string{"base_url must not carry user info"}},
		{"NegativeTimeout", with(func(c *Config) { c.TimeoutSeconds = -1 }), []string{"timeout_seconds"}},
		{"HugeTimeout", with(func(c *Config) { c.TimeoutSeconds = 3600 }), []string{"timeout_seconds"}},
		{"Several", Config{CorpSecret: "s", TimeoutSeconds: 99}, []string{"corp_id is required", "agent_id", "timeout_seconds"}},
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
			require.ErrorContains(t, err, "invalid wechatwork config")
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
		cfg, err := ParseConfig(json.RawMessage(`{"corp_id":"ww1","corp_secret":"s","agent_id":1000002}`))
		require.NoError(t, err)
		require.Equal(t, Config{CorpID: "ww1", CorpSecret: "s", AgentID: 1000002, BaseURL: DefaultBaseURL, TimeoutSeconds: 10}, cfg)
		require.Equal(t, 10*time.Second, cfg.Timeout())
	})

	t.Run("AgentIDAsString", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"corp_id":"ww1","corp_secret":"s","agent_id":" 1000002 ","base_url":"http://127.0.0.1:9/"}`))
		require.NoError(t, err)
		require.Equal(t, int64(1000002), cfg.AgentID)
		require.Equal(t, "http://127.0.0.1:9", cfg.BaseURL, "trailing slash dropped")
	})

	t.Run("SecretOfWrongTypeNotQuoted", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`{"corp_id":"ww1","corp_secret":987654321,"agent_id":1}`))
		require.ErrorContains(t, err, "corp_secret must be a string")
		require.NotContains(t, err.Error(), "987654321")
	})

	t.Run("NotAnObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`["ww1"]`))
		require.ErrorContains(t, err, "config must be a JSON object")
	})
}

func TestRobotConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		raw      string
		problems []string
	}{
		{"Key", `{"key":"693a91f6-7xxx"}`, nil},
		{"WebhookURL", `{"webhook_url":"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6"}`, nil},
		{"KeyAndBaseURL", `{"key":"k1","base_url":"http://127.0.0.1:8080","timeout_seconds":3}`, nil},
		{"Neither", `{}`, []string{"key or webhook_url is required"}},
		{"Both", `{"key":"k1","webhook_url":"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"}`, []string{"not both"}},
		{"KeyIsAURL", `{"key":"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"}`, []string{"bare webhook key"}},
		{"WebhookWithoutKey", `{"webhook_url":"https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}`, []string{"?key="}},
		{"WebhookScheme", `{"webhook_url":"qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}`, []string{"http or https"}},
		{"BaseURLWithWebhook", `{"webhook_url":"https://h/cgi-bin/webhook/send?key=k","base_url":"https://h"}`, []string{"base_url only applies with key"}},
		{"Unknown", `{"key":"k","secret":"x"}`, []string{`unknown field "secret"`}},
		{"BadTimeout", `{"key":"k","timeout_seconds":61}`, []string{"timeout_seconds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := ParseRobotConfig(json.RawMessage(tc.raw))
			if len(tc.problems) == 0 {
				require.NoError(t, err)
				require.NoError(t, cfg.Validate())
				return
			}
			require.ErrorContains(t, err, "invalid wechatwork_robot config")
			for _, p := range tc.problems {
				require.ErrorContains(t, err, p)
			}
		})
	}

	t.Run("SendURL", func(t *testing.T) {
		t.Parallel()
		_, err := ParseRobotConfig(json.RawMessage(`{"key":"a b"}`))
		require.Error(t, err, "a key with a space is refused")
		cfg, err := ParseRobotConfig(json.RawMessage(`{"key":"693a91f6-7e"}`))
		require.NoError(t, err)
		require.Equal(t, "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7e", cfg.SendURL())
		require.Equal(t, 10*time.Second, cfg.Timeout())
		full := "http://127.0.0.1:1/cgi-bin/webhook/send?key=k"
		cfg, err = ParseRobotConfig(json.RawMessage(`{"webhook_url":"` + full + `"}`))
		require.NoError(t, err)
		require.Equal(t, full, cfg.SendURL())
	})
}

func TestConfigsRedactSecrets(t *testing.T) {
	t.Parallel()
	app := Config{CorpID: "ww1", CorpSecret: "very-secret", AgentID: 1}
	key := RobotConfig{Key: "robot-key-secret"}
	hook := RobotConfig{WebhookURL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-key-secret"}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		require.NotContains(t, fmt.Sprintf(format, app), "very-secret", format)
		require.NotContains(t, fmt.Sprintf(format, key), "robot-key-secret", format)
		require.NotContains(t, fmt.Sprintf(format, hook), "robot-key-secret", format)
	}
	require.Contains(t, fmt.Sprint(app), "ww1")
	require.Contains(t, fmt.Sprint(hook), "qyapi.weixin.qq.com")
}
