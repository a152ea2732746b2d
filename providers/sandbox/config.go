package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/providers"
)

// Defaults and limits of Config.
const (
	DefaultLatencyMS      = 20
	DefaultReceiptDelayMS = 100
	DefaultFailureClass   = providers.ClassTransient
	// MaxLatencyMS and MaxReceiptDelayMS keep a typo from parking sends or
	// receipts for days.
	MaxLatencyMS      = 60_000
	MaxReceiptDelayMS = 3_600_000
)

// Config is a sandbox account's JSON config. Every field is optional.
type Config struct {
	// LatencyMS is how long Send takes (default DefaultLatencyMS).
	LatencyMS int `json:"latency_ms"`
	// FailureRate is the chance, 0 to 1, that a send to an ordinary
	// receiver fails with FailureClass and FailureCode.
	FailureRate float64 `json:"failure_rate"`
	// FailureClass is the class of random failures (default transient).
	// unknown_outcome behaves like the MagicUnknownOutcome receiver.
	FailureClass providers.Class `json:"failure_class"`
	// FailureCode is the code of random failures (default CodeFailure).
	FailureCode string `json:"failure_code"`
	// ReceiptDelayMS is how long after acceptance the receipt is pushed
	// (default DefaultReceiptDelayMS).
	ReceiptDelayMS int `json:"receipt_delay_ms"`
	// ReceiptFailureRate is the chance, 0 to 1, that an accepted message's
	// receipt reports it undelivered.
	ReceiptFailureRate float64 `json:"receipt_failure_rate"`
	// NoReceiptRate is the chance, 0 to 1, that an accepted message gets no
	// receipt at all (it still counts as delivered for CheckStatus).
	NoReceiptRate float64 `json:"no_receipt_rate"`
	// Seed makes the random outcomes of one account reproducible for a
	// given sequence of sends. Nil seeds from the system.
	Seed *int64 `json:"seed,omitempty"`
}

// DefaultConfig returns the config an empty JSON object stands for.
func DefaultConfig() Config {
	return Config{
		LatencyMS:      DefaultLatencyMS,
		FailureClass:   DefaultFailureClass,
		FailureCode:    CodeFailure,
		ReceiptDelayMS: DefaultReceiptDelayMS,
	}
}

// Latency returns LatencyMS as a duration.
func (c Config) Latency() time.Duration { return time.Duration(c.LatencyMS) * time.Millisecond }

// ReceiptDelay returns ReceiptDelayMS as a duration.
func (c Config) ReceiptDelay() time.Duration {
	return time.Duration(c.ReceiptDelayMS) * time.Millisecond
}

// ParseConfig decodes an account config over DefaultConfig and validates
// it. The error names every problem found. An empty config is valid.
func ParseConfig(raw json.RawMessage) (Config, error) {
	cfg := DefaultConfig()
	problems := providers.DecodeConfig(raw, map[string]providers.ConfigField{
		"latency_ms":           {Into: &cfg.LatencyMS, Want: "an integer"},
		"failure_rate":         {Into: &cfg.FailureRate, Want: "a number"},
		"failure_class":        {Into: &cfg.FailureClass, Want: "a string"},
		"failure_code":         {Into: &cfg.FailureCode, Want: "a string"},
		"receipt_delay_ms":     {Into: &cfg.ReceiptDelayMS, Want: "an integer"},
		"receipt_failure_rate": {Into: &cfg.ReceiptFailureRate, Want: "a number"},
		"no_receipt_rate":      {Into: &cfg.NoReceiptRate, Want: "a number"},
		"seed":                 {Into: &cfg.Seed, Want: "an integer"},
	})
	// An explicit empty class or code means "the default", as an absent one
	// does.
	if cfg.FailureClass == "" {
		cfg.FailureClass = DefaultFailureClass
	}
	if cfg.FailureCode == "" {
		cfg.FailureCode = CodeFailure
	}
	problems = append(problems, cfg.problems()...)
	if len(problems) > 0 {
		return Config{}, configError(problems)
	}
	return cfg, nil
}

// Validate checks a Config built in code, listing every problem.
func (c Config) Validate() error {
	if problems := c.problems(); len(problems) > 0 {
		return configError(problems)
	}
	return nil
}

func (c Config) problems() []string {
	var problems []string
	if c.LatencyMS < 0 || c.LatencyMS > MaxLatencyMS {
		problems = append(problems, fmt.Sprintf("latency_ms must be between 0 and %d", MaxLatencyMS))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"failure_rate", c.FailureRate},
		{"receipt_failure_rate", c.ReceiptFailureRate},
		{"no_receipt_rate", c.NoReceiptRate},
	} {
		// Written so that NaN fails too.
		if !(r.v >= 0 && r.v <= 1) {
			problems = append(problems, r.name+" must be between 0 and 1")
		}
	}
	if !c.FailureClass.FromProvider() {
		problems = append(problems, fmt.Sprintf("failure_class must be one of transient, throttled, account, permanent, config, unknown_outcome, not %q", c.FailureClass))
	}
	if c.FailureCode == "" {
		problems = append(problems, "failure_code must not be empty")
	}
	if c.ReceiptDelayMS < 0 || c.ReceiptDelayMS > MaxReceiptDelayMS {
		problems = append(problems, fmt.Sprintf("receipt_delay_ms must be between 0 and %d", MaxReceiptDelayMS))
	}
	return problems
}

func configError(problems []string) error {
	return errors.New("invalid sandbox config: " + strings.Join(problems, "; "))
}
