package aliyun

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := Config{AccessKeyID: "LTAI1", AccessKeySecret: "secret"}
	tests := []struct {
		name     string
		cfg      Config
		problems []string
	}{
		{"OK", valid, nil},
		{"OKWithEverything", Config{
			AccessKeyID: "LTAI1", AccessKeySecret: "secret", SignName: "Herald", Region: "ap-southeast-1",
			Endpoint: "127.0.0.1:8080", Protocol: "HTTP", TimeoutSeconds: 5,
		}, nil},
		{"OKCentralRegion", withConfig(valid, func(c *Config) { c.Region = "cn-hangzhou" }), nil},
		{"Empty", Config{}, []string{"access_key_id is required", "access_key_secret is required"}},
		{"Blank", Config{AccessKeyID: " ", AccessKeySecret: "\t"}, []string{"access_key_id is required", "access_key_secret is required"}},
		{"BadRegion", withConfig(valid, func(c *Config) { c.Region = "Hangzhou" }), []string{`region "Hangzhou"`}},
		{"EndpointWithProtocol", withConfig(valid, func(c *Config) { c.Endpoint = "https://dysmsapi.aliyuncs.com" }), []string{"without protocol or path"}},
		{"EndpointWithPath", withConfig(valid, func(c *Config) { c.Endpoint = "dysmsapi.aliyuncs.com/" }), []string{"without protocol or path"}},
		{"EndpointBadPort", withConfig(valid, func(c *Config) { c.Endpoint = "localhost:99999" }), []string{"invalid port"}},
		{"EndpointNoHost", withConfig(valid, func(c *Config) { c.Endpoint = ":8080" }), []string{"has no host"}},
		{"BadProtocol", withConfig(valid, func(c *Config) { c.Protocol = "ftp" }), []string{`protocol "ftp"`}},
		{"NegativeTimeout", withConfig(valid, func(c *Config) { c.TimeoutSeconds = -1 }), []string{"timeout_seconds"}},
		{"HugeTimeout", withConfig(valid, func(c *Config) { c.TimeoutSeconds = 3600 }), []string{"timeout_seconds"}},
		{"Several", Config{AccessKeySecret: "k", Protocol: "ftp", TimeoutSeconds: -5}, []string{"access_key_id is required", `protocol "ftp"`, "timeout_seconds"}},
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

func withConfig(c Config, edit func(*Config)) Config {
	edit(&c)
	return c
}

func TestParseConfig(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"access_key_id":"LTAI1","access_key_secret":"s","sign_name":"Herald"}`))
		require.NoError(t, err)
		require.Equal(t, Config{
			AccessKeyID: "LTAI1", AccessKeySecret: "s", SignName: "Herald",
			Protocol: "https", TimeoutSeconds: DefaultTimeoutSeconds,
		}, cfg)
		require.Equal(t, 10*time.Second, cfg.Timeout())
	})

	t.Run("Everything", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"access_key_id":"LTAI1","access_key_secret":"s","sign_name":"Herald",
			"region":"ap-southeast-1","endpoint":"127.0.0.1:9000","protocol":"HTTP","timeout_seconds":3}`))
		require.NoError(t, err)
		require.Equal(t, "http", cfg.Protocol)
		require.Equal(t, "ap-southeast-1", cfg.Region)
		require.Equal(t, 3*time.Second, cfg.Timeout())
	})

	t.Run("WrongType", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`{"access_key_id":1,"access_key_secret":"s"}`))
		require.ErrorContains(t, err, "invalid aliyun config")
	})

	t.Run("NotAnObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`[1]`))
		require.ErrorContains(t, err, "config must be a JSON object")
	})
}

func TestConfigRedactsSecret(t *testing.T) {
	t.Parallel()
	cfg := Config{AccessKeyID: "LTAI1", AccessKeySecret: "very-secret", SignName: "Herald"}
	for _, s := range []string{cfg.String(), fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(&cfg)} {
		require.NotContains(t, s, "very-secret")
		require.Contains(t, s, "LTAI1")
		require.Contains(t, s, "[redacted]")
	}
}
