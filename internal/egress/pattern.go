package egress

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// patternKind says how a pattern's host is matched.
type patternKind int

const (
	kindName     patternKind = iota + 1 // one exact host name
	kindWildcard                        // every name below a domain
	kindPrefix                          // one IP address or a CIDR range
)

// pattern is one parsed host[:port] pattern.
type pattern struct {
	text   string
	kind   patternKind
	name   string       // kindName: the name; kindWildcard: the suffix with its leading dot
	prefix netip.Prefix // kindPrefix, IPv4 ranges in IPv4 form
	port   uint16       // 0 allows every port
	// builtin marks a default host: https on port 443 only, and never a licence for special addresses.
	builtin bool
}

// matchesHost says whether the pattern allows t's host and port. Names match only name patterns
// and literal addresses only IP patterns; a name's addresses are judged when dialling.
func (pt *pattern) matchesHost(t target) bool {
	if pt.port != 0 && pt.port != t.port {
		return false
	}
	switch pt.kind {
	case kindName:
		return !t.addr.IsValid() && t.name == pt.name
	case kindWildcard:
		return !t.addr.IsValid() && strings.HasSuffix(t.name, pt.name)
	case kindPrefix:
		return t.addr.IsValid() && pt.prefix.Contains(t.addr)
	}
	return false
}

// parsePattern parses one host[:port] pattern. Errors quote the pattern and say what to write.
func parsePattern(s string) (pattern, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (pattern, error) {
		return pattern{}, fmt.Errorf("allowed host pattern %q %s; write host[:port], e.g. api.example.com, *.example.com:443, 10.0.0.0/8 or [::1]:8080", s, why)
	}
	switch {
	case s == "":
		return bad("is empty")
	case strings.Contains(s, "://"):
		return bad("has a scheme; http and https are both allowed for a listed host")
	case strings.ContainsAny(s, "@?# \t"):
		return bad("contains a user name, query, fragment or space")
	}
	host, port, err := splitPattern(s)
	if err != nil {
		return bad(err.Error())
	}
	pt := pattern{text: s}
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return bad(fmt.Sprintf("has port %q, which is not a number from 1 to 65535", port))
		}
		pt.port = uint16(n)
	}
	switch {
	case host == "*":
		return bad("would allow every host; list the hosts the service must reach")
	case strings.Contains(host, "/"):
		prefix, err := netip.ParsePrefix(host)
		if err != nil {
			return bad("has a path or an invalid CIDR range")
		}
		pt.kind, pt.prefix = kindPrefix, unmapPrefix(prefix.Masked())
	case strings.HasPrefix(host, "*."):
		rest := strings.TrimSuffix(strings.ToLower(host[2:]), ".")
		if err := checkName(rest); err != nil {
			return bad("has a wildcard over an invalid domain: " + err.Error())
		}
		pt.kind, pt.name = kindWildcard, "."+rest
	case strings.Contains(host, "*"):
		return bad("has a '*' other than a leading '*.' label")
	default:
		t, err := parseHost(host)
		if err != nil {
			return bad("has an invalid host: " + err.Error())
		}
		if t.addr.IsValid() {
			pt.kind, pt.prefix = kindPrefix, netip.PrefixFrom(t.addr, t.addr.BitLen())
		} else {
			pt.kind, pt.name = kindName, t.name
		}
	}
	return pt, nil
}

// splitPattern splits host[:port]. An IPv6 address or range takes brackets when it has a port
// ([::1]:8080, [fc00::/7]:443); without brackets a host with several colons is all address.
func splitPattern(s string) (host, port string, err error) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", errors.New("has an unclosed '['")
		}
		var rest string
		host, rest = s[1:end], s[end+1:]
		switch {
		case !strings.Contains(host, ":"):
			return "", "", errors.New("has brackets around something other than an IPv6 address")
		case rest == "":
			return host, "", nil
		case !strings.HasPrefix(rest, ":"):
			return "", "", errors.New("has text after ']' that is not a :port")
		}
		port = rest[1:]
	} else if strings.Count(s, ":") == 1 {
		host, port, _ = strings.Cut(s, ":")
	} else {
		return s, "", nil
	}
	if port == "" {
		return "", "", errors.New("has an empty port after ':'")
	}
	return host, port, nil
}

// unmapPrefix turns an IPv4-mapped IPv6 range (::ffff:10.0.0.0/104) into its IPv4 form, because
// addresses are unmapped before they are matched.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// special lists the ranges no outbound call may reach unless the operator lists them: the host
// itself, internal networks, link-local and cloud metadata services, and ranges that are not unicast
// on the internet. The metadata addresses come first so the refusal names them.
var special = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "a cloud metadata address"},
	{netip.MustParsePrefix("fd00:ec2::254/128"), "a cloud metadata address"},
	{netip.MustParsePrefix("0.0.0.0/8"), "an unspecified (this-network) address"},
	{netip.MustParsePrefix("10.0.0.0/8"), "a private address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a shared (CGNAT) address"},
	{netip.MustParsePrefix("127.0.0.0/8"), "a loopback address"},
	{netip.MustParsePrefix("169.254.0.0/16"), "a link-local address"},
	{netip.MustParsePrefix("172.16.0.0/12"), "a private address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.168.0.0/16"), "a private address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("224.0.0.0/4"), "a multicast address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
	{netip.MustParsePrefix("::/128"), "an unspecified address"},
	{netip.MustParsePrefix("::1/128"), "a loopback address"},
	{netip.MustParsePrefix("::/96"), "an IPv4-compatible (deprecated) address"},
	{netip.MustParsePrefix("100::/64"), "a discard-only address"},
	{netip.MustParsePrefix("fc00::/7"), "a private (unique local) address"},
	{netip.MustParsePrefix("fe80::/10"), "a link-local address"},
	{netip.MustParsePrefix("fec0::/10"), "a site-local (deprecated) address"},
	{netip.MustParsePrefix("ff00::/8"), "a multicast address"},
}

// Ranges that carry an IPv4 address inside an IPv6 one; the IPv4 address is judged too, since a
// NAT64 gateway or a 6to4 relay would forward to it.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// classify says whether ip (unmapped) is special and, if so, what it is.
func classify(ip netip.Addr) (what string, isSpecial bool) {
	ip = ip.Unmap()
	for _, s := range special {
		if s.prefix.Contains(ip) {
			return s.what, true
		}
	}
	var embedded netip.Addr
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		embedded = netip.AddrFrom4([4]byte(b[12:16]))
	case sixToFour.Contains(ip):
		embedded = netip.AddrFrom4([4]byte(b[2:6]))
	default:
		return "", false
	}
	if what, ok := classify(embedded); ok {
		return "an IPv6 form of " + embedded.String() + ", " + what, true
	}
	return "", false
}
