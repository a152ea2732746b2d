package adminhttp

import (
	"strings"
	"unicode/utf8"
)

// MaskReceiver hides the middle of a receiver so a viewer can tell
// receivers apart in a list without learning them: +8613812348000 becomes
// +86138****8000, alice@example.com becomes a***@example.com. Anything
// else (a chat user id, a webhook URL) keeps a quarter at each end at most.
func MaskReceiver(s string) string {
	if s == "" {
		return ""
	}
	if at := strings.LastIndexByte(s, '@'); at > 0 {
		local, domain := s[:at], s[at:]
		r, _ := utf8.DecodeRuneInString(local)
		return string(r) + "***" + domain
	}
	if isPhone(s) {
		// Keep the country code and operator prefix (up to 6 characters
		// with the plus) and the last 4 digits.
		head := min(6, len(s)-4)
		if head < 1 {
			return strings.Repeat("*", len(s))
		}
		if !strings.HasPrefix(s, "+") {
			head = min(3, len(s)-4)
		}
		return s[:head] + "****" + s[len(s)-4:]
	}
	runes := []rune(s)
	keep := len(runes) / 4
	if keep > 4 {
		keep = 4
	}
	return string(runes[:keep]) + "****" + string(runes[len(runes)-keep:])
}

func isPhone(s string) bool {
	digits := strings.TrimPrefix(s, "+")
	if len(digits) < 7 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// MaskedContent replaces a message's text for viewers: its length is
// shown, nothing of what it says.
func MaskedContent(s string) string {
	if s == "" {
		return ""
	}
	return "[" + itoa(utf8.RuneCountInString(s)) + " characters hidden]"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
