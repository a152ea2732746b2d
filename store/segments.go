package store

import "strings"

// gsm7Basic is the GSM 03.38 basic character set; gsm7Extended holds the
// characters that take an escape and so count twice.
const (
	gsm7Basic    = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Extended = "^{}\\[~]|€\f"
)

// SMSSegments returns how many parts an SMS text is billed as: up to 160
// GSM-7 or 70 UCS-2 characters fit one part; a longer text is split into
// parts of 153 or 67. The signature is counted as the 【signature】 the
// provider adds to the text.
func SMSSegments(text, signature string) int {
	if signature != "" {
		text = "【" + signature + "】" + text
	}
	gsm, units := true, 0
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsm7Basic, r):
			units++
		case strings.ContainsRune(gsm7Extended, r):
			units += 2
		default:
			gsm = false
		}
	}
	single, part := 160, 153
	if !gsm {
		// UCS-2 counts UTF-16 code units: a character outside the basic
		// plane takes two.
		units = 0
		for _, r := range text {
			if r > 0xFFFF {
				units += 2
			} else {
				units++
			}
		}
		single, part = 70, 67
	}
	if units <= single {
		return 1
	}
	return (units + part - 1) / part
}
