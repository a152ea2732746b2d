package providers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// ConfigField is one key an account's JSON config may hold.
type ConfigField struct {
	// Into is a pointer the key's value is decoded into with
	// encoding/json.
	Into any
	// Want ends the problem "<key> must be <Want>" reported when the value
	// does not decode into Into: "a string", "an integer", ...
	Want string
}

// DecodeConfig decodes raw, an account's JSON config, key by key into
// fields and returns every problem it found, in key order, so that one bad
// value does not hide the next and ValidateConfig can name them all in one
// error:
//
//   - "config must be a JSON object" when raw is not one;
//   - `unknown field "<key>"` for a key fields does not hold, usually a
//     typo;
//   - "<key> must be <Want>" for a value that does not decode.
//
// Values are never quoted back: they may be secrets. Empty input and null
// count as an empty object, and a null value leaves its field as it was.
// Checks of the decoded values (required keys, ranges) are the caller's.
func DecodeConfig(raw json.RawMessage, fields map[string]ConfigField) []string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return []string{"config must be a JSON object"}
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var problems []string
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown field %q", k))
			continue
		}
		if bytes.Equal(bytes.TrimSpace(obj[k]), []byte("null")) {
			continue
		}
		if err := json.Unmarshal(obj[k], f.Into); err != nil {
			problems = append(problems, fmt.Sprintf("%s must be %s", k, f.Want))
		}
	}
	return problems
}

// UnknownOutcomeField is the on_unknown_outcome key of an account config,
// for providers without a status query: what to do when a send's outcome is
// unknown (see UnknownOutcome).
const UnknownOutcomeField = "on_unknown_outcome"

// UnknownOutcomeProblems checks an on_unknown_outcome value; empty takes
// the provider's default.
func UnknownOutcomeProblems(v string) []string {
	if _, err := ParseUnknownOutcome(v, OnUnknownResend); err != nil {
		return []string{err.Error()}
	}
	return nil
}
