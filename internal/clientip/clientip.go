// Package clientip decides which address a request comes from when
// reverse proxies stand in front of Herald: the peer address, unless the
// peer is a configured trusted proxy, in which case its X-Forwarded-For
// chain is believed. The client API and the operators' API share it, so
// both name the same client for the same request.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v4"
)

// ParsePrefixes parses a list of IPs and CIDR ranges; a bare IP is a
// single-address range. The error lists every entry that is neither.
func ParsePrefixes(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	var bad []string
	for _, e := range entries {
		p, err := ParsePrefix(e)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q", e))
			continue
		}
		out = append(out, p)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("not an IP or CIDR range: %s", strings.Join(bad, ", "))
	}
	return out, nil
}

// ParsePrefix parses one IP or CIDR range.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Contains reports whether ip falls in any of ps. IPv4-mapped IPv6
// addresses match IPv4 ranges.
func Contains(ps []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Extractor returns echo's IP extractor for the trusted proxies: the peer
// address when there are none, otherwise the X-Forwarded-For chain
// walked back to the first address that is not a trusted proxy. Loopback,
// link-local and private peers are not trusted unless listed.
func Extractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range ipNets(trusted) {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// FromTrustedProxy reports whether the request's peer is one of the
// trusted proxies, whose X-Forwarded-* headers may then be believed.
func FromTrustedProxy(trusted []netip.Prefix, r *http.Request) bool {
	if len(trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && Contains(trusted, addr)
}

// ipNets converts prefixes for echo's IP extractor.
func ipNets(ps []netip.Prefix) []*net.IPNet {
	out := make([]*net.IPNet, 0, len(ps))
	for _, p := range ps {
		out = append(out, &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())})
	}
	return out
}
