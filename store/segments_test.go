package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSMSSegments(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, text, sig string
		want            int
	}{
		{"Empty", "", "", 1},
		{"GSM160", strings.Repeat("a", 160), "", 1},
		{"GSM161", strings.Repeat("a", 161), "", 2},
		{"GSM306", strings.Repeat("a", 306), "", 2},
		{"GSM307", strings.Repeat("a", 307), "", 3},
		{"ExtendedCountsTwice", strings.Repeat("€", 80), "", 1},
		{"ExtendedOverflow", strings.Repeat("€", 81), "", 2},
		{"UCS70", strings.Repeat("验", 70), "", 1},
		{"UCS71", strings.Repeat("验", 71), "", 2},
		{"UCS134", strings.Repeat("验", 134), "", 2},
		{"UCS135", strings.Repeat("验", 135), "", 3},
		{"SignatureCounts", strings.Repeat("验", 67), "商城", 2},
		{"SignatureFits", strings.Repeat("验", 64), "商城", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, SMSSegments(tc.text, tc.sig))
		})
	}
}
