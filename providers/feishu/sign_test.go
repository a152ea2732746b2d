package feishu

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSign(t *testing.T) {
	t.Parallel()
	// Computed outside Go, key = "timestamp\nsecret", empty message:
	//   printf '' | openssl dgst -sha256 -hmac "$(printf '1700000000\ntestsecret')" -binary | base64
	tests := []struct {
		at     int64
		secret string
		want   string
	}{
		{1700000000, "testsecret", "AOc8oJ7//5OlQlfWC3nRL0R+IkuzcD1FKcAyibRK9Q8="},
		{1756800000, "orbit-test-secret", "sN+9ZKa5w6BQmKyxCaxNA1DWEgtEnZaOcfEOCqZ26fg="},
	}
	for _, tc := range tests {
		t.Run(tc.secret, func(t *testing.T) {
			t.Parallel()
			ts, sign := Sign(tc.secret, time.Unix(tc.at, 999_000_000))
			require.Equal(t, strconv.FormatInt(tc.at, 10), ts, "seconds, not milliseconds")
			require.Equal(t, tc.want, sign)
		})
	}
}
