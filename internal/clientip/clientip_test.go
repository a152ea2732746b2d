package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	ps, err := ParsePrefixes([]string{"10.0.0.0/8", " 192.0.2.1 ", "::ffff:198.51.100.7", "2001:db8::/32"})
	require.NoError(t, err)
	require.Len(t, ps, 4)
	require.True(t, Contains(ps, netip.MustParseAddr("10.1.2.3")))
	require.True(t, Contains(ps, netip.MustParseAddr("198.51.100.7")), "mapped address is unmapped")
	require.True(t, Contains(ps, netip.MustParseAddr("::ffff:192.0.2.1")))
	require.False(t, Contains(ps, netip.MustParseAddr("192.0.2.2")))

	_, err = ParsePrefixes([]string{"10.0.0.0/8", "nope", "1.2.3.4/99"})
	require.EqualError(t, err, `not an IP or CIDR range: "nope", "1.2.3.4/99"`)
}

func TestExtractor(t *testing.T) {
	t.Parallel()
	trusted, err := ParsePrefixes([]string{"10.0.0.1"})
	require.NoError(t, err)
	cases := []struct {
		name, peer, xff, want string
		trusted               bool
	}{
		{"direct peer, header ignored", "203.0.113.9:5000", "198.51.100.1", "203.0.113.9", false},
		{"trusted proxy, header believed", "10.0.0.1:5000", "198.51.100.1", "198.51.100.1", true},
		{"untrusted loopback is not a proxy", "127.0.0.1:5000", "198.51.100.1", "127.0.0.1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			r.Header.Set("X-Forwarded-For", tc.xff)
			require.Equal(t, tc.want, Extractor(trusted)(r))
			require.Equal(t, tc.trusted, FromTrustedProxy(trusted, r))
		})
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "198.51.100.1")
	require.Equal(t, "10.0.0.1", Extractor(nil)(r), "no trusted proxies: the peer")
	require.False(t, FromTrustedProxy(nil, r))
}
