package tencent

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := Config{SecretID: "AKID1", SecretKey: "key", SdkAppID: "1400006666"}
	tests := []struct {
		name     string
		cfg      Config
		problems []string
	}{
		{"OK", valid, nil},
		{"OKWithEverything", Config{
			SecretID: "AKID1", SecretKey: "key", SdkAppID: "1400006666", Region: "ap-beijing",
			SignName: "Herald", Endpoint: "127.0.0.1:8080", Scheme: "HTTP", TimeoutSeconds: 5,
		}, nil},
		{"Empty", Config{}, []string{"secret_id is required", "secret_key is required", "sdk_app_id is required"}},
		{"NonNumericApp", Config{SecretID: "a", SecretKey: "b", SdkAppID: "app"}, []string{"sdk_app_id must be the numeric"}},
		{"BadRegion", withConfig(valid, func(c *Config) { c.Region = "Guangzhou" }), []string{`region "Guangzhou"`}},
		{"EndpointWithScheme", withConfig(valid, func(c *Config) { c.Endpoint = "https://sms.tencentcloudapi.com" }), []string{"without scheme or path"}},
		{"EndpointBadPort", withConfig(valid, func(c *Config) { c.Endpoint = "localhost:99999" }), []string{"invalid port"}},
		{"BadScheme", withConfig(valid, func(c *Config) { c.Scheme = "ftp" }), []string{`scheme "ftp"`}},
		{"NegativeTimeout", withConfig(valid, func(c *Config) { c.TimeoutSeconds = -1 }), []string{"timeout_seconds"}},
		{"HugeTimeout", withConfig(valid, func(c *Config) { c.TimeoutSeconds = 3600 }), []string{"timeout_seconds"}},
		{"Several", Config{SecretKey: "k", SdkAppID: "1", Scheme: "ftp"}, []string{"secret_id is required", `scheme "ftp"`}},
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
		cfg, err := ParseConfig(json.RawMessage(`{"secret_id":"AKID1","secret_key":"k","sdk_app_id":"1400006666","sign_name":"Herald"}`))
		require.NoError(t, err)
		require.Equal(t, Config{
			SecretID: "AKID1", SecretKey: "k", SdkAppID: "1400006666", SignName: "Herald",
			Region: "ap-guangzhou", Scheme: "https", TimeoutSeconds: 10,
		}, cfg)
		require.Equal(t, 10*time.Second, cfg.Timeout())
	})

	t.Run("WrongType", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`{"secret_id":"AKID1","secret_key":"k","sdk_app_id":1400006666}`))
		require.ErrorContains(t, err, "sdk_app_id")
	})

	t.Run("NotAnObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`[]`))
		require.ErrorContains(t, err, "config must be a JSON object")
	})

	t.Run("ProviderValidate", func(t *testing.T) {
		t.Parallel()
		p := New()
		require.Equal(t, "tencent", p.Kind())
		require.NoError(t, p.ValidateConfig(json.RawMessage(`{"secret_id":"a","secret_key":"b","sdk_app_id":"1400006666"}`)))
		require.ErrorContains(t, p.ValidateConfig(json.RawMessage(`{}`)), "secret_id is required")
	})
}

func TestConfigRedactsSecret(t *testing.T) {
	t.Parallel()
	cfg := Config{SecretID: "AKID1", SecretKey: "very-secret", SdkAppID: "1400006666"}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		require.NotContains(t, fmt.Sprintf(format, cfg), "very-secret", format)
	}
}
