package zrwinfo

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	valid := Config{AccessKey: "ak", Secret: "sk"}
	tests := []struct {
		name     string
		cfg      Config
		problems []string
	}{
		{"OK", valid, nil},
		{"OKWithEverything", Config{
			AccessKey: "ak", Secret: "sk", SignName: "Herald", BaseURL: "http://127.0.0.1:8080/prefix/",
			TimeoutSeconds: 5, BatchSize: 1000, CodeClasses: map[string]providers.Class{"9001": providers.ClassAccount},
		}, nil},
		{"Empty", Config{}, []string{"access_key is required", "secret is required"}},
		{"BlankSecret", Config{AccessKey: "ak", Secret: "  "}, []string{"secret is required"}},
		{"BaseURLWithoutScheme", with(valid, func(c *Config) { c.BaseURL = "api.1cloudsp.com" }), []string{"must start with http:// or https://"}},
		{"BaseURLFTP", with(valid, func(c *Config) { c.BaseURL = "ftp://api.1cloudsp.com" }), []string{"must start with http:// or https://"}},
		{"BaseURLWithUser", with(valid, func(c *Config) { c.BaseURL = "https://u:p@api.1cloudsp.com" }), []string{"user info"}},
		{"BaseURLWithQuery", with(valid, func(c *Config) { c.BaseURL = "https://api.1cloudsp.com?x=1" }), []string{"query or fragment"}},
		{"BaseURLNoHost", with(valid, func(c *Config) { c.BaseURL = "https://" }), []string{"has no host"}},
		{"NegativeTimeout", with(valid, func(c *Config) { c.TimeoutSeconds = -1 }), []string{"timeout_seconds"}},
		{"HugeTimeout", with(valid, func(c *Config) { c.TimeoutSeconds = 3600 }), []string{"timeout_seconds"}},
		{"HugeBatch", with(valid, func(c *Config) { c.BatchSize = MaxBatchSize + 1 }), []string{"batch_size"}},
		{"UnknownClass", with(valid, func(c *Config) { c.CodeClasses = map[string]providers.Class{"9001": "fatal"} }), []string{`"9001" maps to "fatal"`}},
		{"SuccessCodeMapped", with(valid, func(c *Config) { c.CodeClasses = map[string]providers.Class{"0": providers.ClassAccount} }), []string{`"0" is not a failure code`}},
		{"Several", Config{Secret: "sk", BatchSize: -1, BaseURL: "x"}, []string{"access_key is required", "batch_size", "base_url"}},
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

func with(c Config, edit func(*Config)) Config {
	edit(&c)
	return c
}

func TestParseConfig(t *testing.T) {
	t.Parallel()

	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"access_key":"ak","secret":"sk","sign_name":"Herald"}`))
		require.NoError(t, err)
		require.Equal(t, Config{
			AccessKey: "ak", Secret: "sk", SignName: "Herald",
			BaseURL: DefaultBaseURL, TimeoutSeconds: DefaultTimeoutSeconds, BatchSize: DefaultBatchSize,
		}, cfg)
		require.Equal(t, 10*time.Second, cfg.Timeout())
	})

	t.Run("Everything", func(t *testing.T) {
		t.Parallel()
		cfg, err := ParseConfig(json.RawMessage(`{"access_key":"ak","secret":"sk","base_url":"http://127.0.0.1:9/",
			"timeout_seconds":3,"batch_size":7,"code_classes":{"9001":"account","9002":"config"}}`))
		require.NoError(t, err)
		require.Equal(t, "http://127.0.0.1:9", cfg.BaseURL, "the trailing slash is dropped")
		require.Equal(t, 3*time.Second, cfg.Timeout())
		require.Equal(t, 7, cfg.BatchSize)
		require.Equal(t, map[string]providers.Class{"9001": providers.ClassAccount, "9002": providers.ClassConfig}, cfg.CodeClasses)
	})

	t.Run("EveryProblem", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`{"accesskey":"ak","secret":"sk","batch_size":"10","code_classes":{"1":"nope"}}`))
		require.Error(t, err)
		require.ErrorContains(t, err, `unknown field "accesskey"`)
		require.ErrorContains(t, err, "access_key is required")
		require.ErrorContains(t, err, "batch_size must be an integer")
		require.ErrorContains(t, err, `"1" maps to "nope"`)
	})

	t.Run("NotAnObject", func(t *testing.T) {
		t.Parallel()
		_, err := ParseConfig(json.RawMessage(`[]`))
		require.ErrorContains(t, err, "must be a JSON object")
	})

	t.Run("ProviderValidate", func(t *testing.T) {
		t.Parallel()
		p := New()
		require.Equal(t, "zrwinfo", p.Kind())
		require.NoError(t, p.ValidateConfig(json.RawMessage(`{"access_key":"a","secret":"b"}`)))
		require.ErrorContains(t, p.ValidateConfig(json.RawMessage(`{}`)), "access_key is required")
	})

	t.Run("NewSenderNamesAccount", func(t *testing.T) {
		t.Parallel()
		_, err := New().NewSender(providers.Account{ID: 3, Kind: Kind, Config: json.RawMessage(`{"access_key":""}`)})
		require.ErrorContains(t, err, "account 3")
		require.ErrorContains(t, err, "access_key is required")
	})
}

func TestConfigRedactsSecret(t *testing.T) {
	t.Parallel()
	cfg := Config{AccessKey: "ak", Secret: "very-secret", SignName: "Herald"}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		require.NotContains(t, fmt.Sprintf(format, cfg), "very-secret", format)
	}
	require.NotContains(t, Config{AccessKey: "ak"}.Validate().Error(), "very-secret")
}
