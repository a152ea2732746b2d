package dingtalk

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSign(t *testing.T) {
	t.Parallel()
	// Computed outside Go:
	//   printf '1700000000000\nSECtestsecret' | openssl dgst -sha256 -hmac SECtestsecret -binary | base64
	at := time.UnixMilli(1700000000000)
	const want = "7LVwF0dAF3/+MRRulbpE4y72Ogzykc6bS2nG4I99T4s="

	t.Run("Raw", func(t *testing.T) {
		t.Parallel()
		ts, sign := Sign("SECtestsecret", at)
		require.Equal(t, "1700000000000", ts)
		require.Equal(t, want, sign)
	})

	t.Run("QueryIsEscapedOnce", func(t *testing.T) {
		t.Parallel()
		q := url.Values{"access_token": {"tok"}}
		SignQuery(q, "SECtestsecret", at)
		require.Equal(t, "access_token=tok&sign=7LVwF0dAF3%2F%2BMRRulbpE4y72Ogzykc6bS2nG4I99T4s%3D&timestamp=1700000000000", q.Encode())
		back, err := url.ParseQuery(q.Encode())
		require.NoError(t, err)
		require.Equal(t, want, back.Get("sign"))
	})
}
