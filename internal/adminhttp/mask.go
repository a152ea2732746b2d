package adminhttp

import "unicode/utf8"

// Receivers are masked with store.MaskReceiver, the one masking rule
// (also used for suppression lists).

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
