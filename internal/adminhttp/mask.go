package adminhttp

import (
	"strconv"
	"unicode/utf8"
)

// Receivers are masked with store.MaskReceiver, the one masking rule
// (also used for suppression lists).

// MaskedContent replaces a message's text for viewers: its length is
// shown, nothing of what it says.
func MaskedContent(s string) string {
	if s == "" {
		return ""
	}
	return "[" + strconv.Itoa(utf8.RuneCountInString(s)) + " characters hidden]"
}
