package providers_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/heraldhq/herald/providers"
)

// testConfig is a config with one field of each kind providers use.
type testConfig struct {
	Name    string
	Port    int
	Verbose bool
	Rate    float64
	Headers map[string]string
	Seed    *int64
	Agent   digits
}

// digits decodes a number or a string of digits, and refuses null, as a
// provider's own value types may.
type digits int64

func (d *digits) UnmarshalJSON(b []byte) error {
	s := string(b)
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("not digits")
	}
	*d = digits(n)
	return nil
}

func decode(raw string) (testConfig, []string) {
	cfg := testConfig{Port: 25}
	problems := providers.DecodeConfig(json.RawMessage(raw), map[string]providers.ConfigField{
		"name":    {Into: &cfg.Name, Want: "a string"},
		"port":    {Into: &cfg.Port, Want: "an integer"},
		"verbose": {Into: &cfg.Verbose, Want: "a boolean"},
		"rate":    {Into: &cfg.Rate, Want: "a number"},
		"headers": {Into: &cfg.Headers, Want: "an object of string values"},
		"seed":    {Into: &cfg.Seed, Want: "an integer"},
		"agent":   {Into: &cfg.Agent, Want: "an integer (a number or a string of digits)"},
	})
	return cfg, problems
}

func TestDecodeConfig(t *testing.T) {
	t.Parallel()
	seven := int64(7)

	tests := map[string]struct {
		raw      string
		want     testConfig
		problems []string
	}{
		"OK": {
			raw:  `{"name":"relay","port":587,"verbose":true,"rate":0.5,"headers":{"X-A":"1"},"seed":7,"agent":"1000002"}`,
			want: testConfig{Name: "relay", Port: 587, Verbose: true, Rate: 0.5, Headers: map[string]string{"X-A": "1"}, Seed: &seven, Agent: 1000002},
		},
		"Empty":       {raw: ``, want: testConfig{Port: 25}},
		"Blank":       {raw: " \n", want: testConfig{Port: 25}},
		"Null":        {raw: `null`, want: testConfig{Port: 25}},
		"EmptyObject": {raw: `{}`, want: testConfig{Port: 25}},
		"NullValuesKeepDefaults": {
			raw:  `{"name":null,"port":null,"agent":null,"headers":null,"seed":null}`,
			want: testConfig{Port: 25},
		},
		"ErrNotAnObject": {raw: `[1,2]`, problems: []string{"config must be a JSON object"}},
		"ErrMalformed":   {raw: `{"name":`, problems: []string{"config must be a JSON object"}},
		"ErrUnknownKeys": {
			raw:      `{"prot":587,"name":"relay","Name":"x"}`,
			problems: []string{`unknown field "Name"`, `unknown field "prot"`},
		},
		"ErrTypesNamedPerKey": {
			raw: `{"verbose":"yes","port":"587","name":5,"rate":"fast","headers":{"X-A":1},"seed":1.5,"agent":"12a"}`,
			problems: []string{
				"agent must be an integer (a number or a string of digits)",
				"headers must be an object of string values",
				"name must be a string",
				"port must be an integer",
				"rate must be a number",
				"seed must be an integer",
				"verbose must be a boolean",
			},
		},
		"ErrAllProblemsInKeyOrder": {
			raw:      `{"zz":1,"port":true,"aa":2,"name":"ok"}`,
			problems: []string{`unknown field "aa"`, "port must be an integer", `unknown field "zz"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, problems := decode(tc.raw)
			require.Equal(t, tc.problems, problems)
			if tc.problems == nil {
				require.Equal(t, tc.want, cfg)
			}
		})
	}

	t.Run("ValuesNeverQuoted", func(t *testing.T) {
		t.Parallel()
		_, problems := decode(`{"name":["hunter2"],"pass":"hunter2"}`)
		require.Equal(t, []string{"name must be a string", `unknown field "pass"`}, problems)
	})
}
