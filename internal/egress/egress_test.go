package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/apiclient"
)

func TestParsePatterns(t *testing.T) {
	t.Parallel()
	good := []struct {
		name, in string
		want     []string
	}{
		{"unset", "", nil},
		{"blank", "  ", nil},
		{"name", "api.example.com", []string{"api.example.com"}},
		{"trimmed list", " api.example.com , *.example.org:8443 ", []string{"api.example.com", "*.example.org:8443"}},
		{"wide wildcard", "*.com", []string{"*.com"}},
		{"addresses", "127.0.0.1,[::1],::1,[::1]:8080,10.0.0.0/8:443,fc00::/7,[fd00::/8]:80", []string{"127.0.0.1", "[::1]", "::1", "[::1]:8080", "10.0.0.0/8:443", "fc00::/7", "[fd00::/8]:80"}},
		{"name with port", "localhost:8080", []string{"localhost:8080"}},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePatterns(tc.in)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	bad := []struct{ name, in, want string }{
		{"empty item", "a.example.com,,b.example.com", "item 2"},
		{"trailing comma", "a.example.com,", "item 2"},
		{"bare star", "*", `"*" would allow every host`},
		{"bare star with port", "*:443", `"*:443" would allow every host`},
		{"scheme", "https://api.example.com", `"https://api.example.com" has a scheme`},
		{"path", "api.example.com/v2", `"api.example.com/v2" has a path`},
		{"bad cidr", "10.0.0.0/33", `"10.0.0.0/33" has a path or an invalid CIDR`},
		{"userinfo", "user@api.example.com", `"user@api.example.com" contains a user name`},
		{"query", "api.example.com?x=1", "contains a user name, query"},
		{"inner space", "api example.com", "contains a user name, query, fragment or space"},
		{"star inside", "api*.example.com", "has a '*' other than"},
		{"double wildcard", "*.*.example.com", "wildcard over an invalid domain"},
		{"wildcard of nothing", "*.", "wildcard over an invalid domain"},
		{"port zero", "api.example.com:0", `has port "0"`},
		{"port too big", "api.example.com:65536", `has port "65536"`},
		{"port not a number", "api.example.com:https", `has port "https"`},
		{"empty port", "api.example.com:", "empty port"},
		{"unclosed bracket", "[::1", "unclosed"},
		{"bracketed name", "[example.com]:80", "brackets around something other than an IPv6"},
		{"junk after bracket", "[::1]x", "not a :port"},
		{"bad name", "exa$mple.com", "not a valid host name"},
		{"broken address", "10.0.0.256", "looks like an IP address"},
		{"zone", "fe80::1%eth0", "zones"},
		{"wildcard over an address", "*.0.0.1", "looks like an IP address"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePatterns(tc.in)
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "--allow-hosts")
			_, err = NewPolicy(strings.Split(tc.in, ","))
			require.Error(t, err, "NewPolicy must refuse what ParsePatterns refuses")
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		patterns []string
		url      string
		wantErr  string // empty: allowed
		wantHost string // NotAllowedError.Host when refused
	}{
		{name: "handy default", url: "https://hub.handy.la/api/v2"},
		{name: "bind default", url: "https://api.bind.com.mx"},
		{name: "default explicit port", url: "https://api.bind.com.mx:443/"},
		{name: "default upper case and trailing dot", url: "https://HUB.Handy.LA./api/v2"},
		{name: "default over http", url: "http://hub.handy.la/secret-path", wantErr: "hub.handy.la is only allowed over https on port 443; use https://hub.handy.la", wantHost: "hub.handy.la:80"},
		{name: "default on another port", url: "https://api.bind.com.mx:8443", wantErr: "only allowed over https on port 443", wantHost: "api.bind.com.mx:8443"},
		{name: "default over http on 443", url: "http://api.bind.com.mx:443", wantErr: "only allowed over https on port 443"},
		{name: "default host as a suffix", url: "https://hub.handy.la.evil.example", wantErr: "matches no allowed host pattern"},
		{name: "default host as a prefix", url: "https://evilhub.handy.la", wantErr: "matches no allowed host pattern"},
		{name: "not listed", url: "http://10.0.0.5:8080/secret-path", wantHost: "10.0.0.5:8080",
			wantErr: "host 10.0.0.5:8080 is not allowed: it matches no allowed host pattern; the operator can allow it with --allow-hosts (HANDYBIND_ALLOW_HOSTS)"},
		{name: "scheme", url: "ftp://hub.handy.la/secret-path", wantErr: `scheme "ftp" is not supported`},
		{name: "no scheme", url: "hub.handy.la/api", wantErr: `scheme "" is not supported`},
		{name: "no host", url: "https:///api", wantErr: "has no host"},
		{name: "opaque", url: "https:hub.handy.la", wantErr: "has no host"},
		{name: "unparsable", url: "https://[::1/secret-path", wantErr: "not a valid URL"},
		{name: "userinfo on a default host", url: "https://u:s3cret@hub.handy.la/secret-path", wantErr: "user name or password"},
		{name: "port zero", url: "https://hub.handy.la:0/", wantErr: "not a number from 1 to 65535"},
		{name: "numeric name", url: "http://2130706433/", patterns: []string{"*.example.com"}, wantErr: "looks like an IP address"},
		{name: "zone", url: "http://[fe80::1%25eth0]/", patterns: []string{"fe80::/10"}, wantErr: "zones"},

		{name: "listed name over http", patterns: []string{"api.example.com"}, url: "http://api.example.com:8080/x"},
		{name: "listed name over https", patterns: []string{"api.example.com"}, url: "https://api.example.com"},
		{name: "listed name other name", patterns: []string{"api.example.com"}, url: "https://www.example.com", wantErr: "no allowed host pattern"},
		{name: "listed name and port", patterns: []string{"api.example.com:8080"}, url: "http://api.example.com:8080"},
		{name: "listed name wrong port", patterns: []string{"api.example.com:8080"}, url: "http://api.example.com", wantErr: "no allowed host pattern", wantHost: "api.example.com:80"},
		{name: "listed default allows http", patterns: []string{"hub.handy.la"}, url: "http://hub.handy.la/api/v2"},
		{name: "wildcard subdomain", patterns: []string{"*.example.com"}, url: "https://api.example.com"},
		{name: "wildcard deep subdomain", patterns: []string{"*.example.com"}, url: "https://a.b.example.com"},
		{name: "wildcard not the apex", patterns: []string{"*.example.com"}, url: "https://example.com", wantErr: "no allowed host pattern"},
		{name: "wildcard not a longer name", patterns: []string{"*.example.com"}, url: "https://badexample.com", wantErr: "no allowed host pattern"},
		{name: "wildcard port", patterns: []string{"*.example.com:8443"}, url: "https://api.example.com:8443"},
		{name: "wildcard wrong port", patterns: []string{"*.example.com:8443"}, url: "https://api.example.com", wantErr: "no allowed host pattern"},
		{name: "wildcard no address", patterns: []string{"*.example.com"}, url: "http://127.0.0.1/", wantErr: "no allowed host pattern"},
		{name: "listed address", patterns: []string{"127.0.0.1"}, url: "http://127.0.0.1:9999"},
		{name: "listed address mapped form", patterns: []string{"127.0.0.1"}, url: "http://[::ffff:127.0.0.1]:9999"},
		{name: "listed address other address", patterns: []string{"127.0.0.1"}, url: "http://127.0.0.2", wantErr: "no allowed host pattern"},
		{name: "listed address not a name", patterns: []string{"127.0.0.1"}, url: "http://localhost", wantErr: "no allowed host pattern"},
		{name: "listed IPv6", patterns: []string{"[::1]:8080"}, url: "http://[::1]:8080"},
		{name: "listed IPv6 wrong port", patterns: []string{"[::1]:8080"}, url: "http://[::1]:8081", wantErr: "no allowed host pattern", wantHost: "[::1]:8081"},
		{name: "listed range inside", patterns: []string{"10.0.0.0/8"}, url: "http://10.20.30.40:8080"},
		{name: "listed range outside", patterns: []string{"10.0.0.0/8"}, url: "http://11.0.0.1", wantErr: "no allowed host pattern"},
		{name: "listed unmasked range", patterns: []string{"10.1.2.3/8"}, url: "http://10.200.0.1"},
		{name: "listed mapped range", patterns: []string{"::ffff:10.0.0.0/104"}, url: "http://10.9.9.9"},
		{name: "listed IPv6 range", patterns: []string{"fc00::/7"}, url: "http://[fd12::1]"},
		{name: "userinfo on a listed host", patterns: []string{"api.example.com"}, url: "http://user:pw@api.example.com", wantErr: "user name or password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, err := NewPolicy(tc.patterns)
			require.NoError(t, err)
			err = p.CheckURL(tc.url)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			var na *NotAllowedError
			require.ErrorAs(t, err, &na)
			if tc.wantHost != "" {
				require.Equal(t, tc.wantHost, na.Host)
			}
			require.NotContains(t, err.Error(), "s3cret", "a refusal must not echo a password")
			require.NotContains(t, err.Error(), "secret-path", "a refusal must not echo the path")
		})
	}
}

// fakeResolver answers from a table, so tests can play any DNS answer, a hostile one included.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   int
}

func (f *fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	texts, ok := f.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, len(texts))
	for i, s := range texts {
		out[i] = net.IPAddr{IP: net.ParseIP(s)}
	}
	return out, nil
}

func (f *fakeResolver) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func TestSpecialAddressesAreRefusedAtDial(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, ip, what string }{
		{"metadata", "169.254.169.254", "a cloud metadata address"},
		{"metadata IPv6", "fd00:ec2::254", "a cloud metadata address"},
		{"metadata mapped", "::ffff:169.254.169.254", "a cloud metadata address"},
		{"loopback", "127.0.0.1", "a loopback address"},
		{"loopback other", "127.5.6.7", "a loopback address"},
		{"loopback IPv6", "::1", "a loopback address"},
		{"loopback mapped", "::ffff:127.0.0.1", "a loopback address"},
		{"unspecified", "0.0.0.0", "an unspecified"},
		{"unspecified IPv6", "::", "an unspecified address"},
		{"private 10", "10.1.2.3", "a private address"},
		{"private 192.168", "192.168.1.1", "a private address"},
		{"private 172.16", "172.16.0.1", "a private address"},
		{"private 172.31", "172.31.255.255", "a private address"},
		{"private mapped", "::ffff:10.0.0.1", "a private address"},
		{"unique local", "fc00::1", "a private (unique local) address"},
		{"unique local fd", "fd12:3456::1", "a private (unique local) address"},
		{"link-local", "169.254.1.1", "a link-local address"},
		{"link-local IPv6", "fe80::1", "a link-local address"},
		{"CGNAT", "100.64.0.1", "a shared (CGNAT) address"},
		{"CGNAT top", "100.127.255.254", "a shared (CGNAT) address"},
		{"multicast", "224.0.0.1", "a multicast address"},
		{"multicast IPv6", "ff02::1", "a multicast address"},
		{"broadcast", "255.255.255.255", "a reserved or broadcast address"},
		{"IPv4-compatible", "::7f00:1", "IPv4-compatible"},
		{"NAT64 of loopback", "64:ff9b::7f00:1", "an IPv6 form of 127.0.0.1, a loopback address"},
		{"6to4 of private", "2002:a00:1::1", "an IPv6 form of 10.0.0.1, a private address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := &fakeResolver{answers: map[string][]string{"app.example.test": {tc.ip}}}
			// The wildcard allows the name, and the listed name is a different one: neither may
			// lift the refusal of a special address.
			p, err := NewPolicy([]string{"*.example.test", "other.example.test"}, WithResolver(res))
			require.NoError(t, err)
			conn, err := p.DialContext(t.Context(), "tcp", "app.example.test:443")
			require.Nil(t, conn)
			var na *NotAllowedError
			require.ErrorAs(t, err, &na)
			require.Equal(t, "app.example.test:443", na.Host)
			require.Contains(t, na.Reason, "it resolves to ")
			require.Contains(t, na.Reason, tc.what)
			require.ErrorContains(t, err, "listing the address or the exact host name with --allow-hosts (HANDYBIND_ALLOW_HOSTS)")
		})
	}
}

func TestOrdinaryAddressesAreNotSpecial(t *testing.T) {
	t.Parallel()
	for _, ip := range []string{"8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "100.128.0.1", "100.63.255.255", "169.255.0.1",
		"192.169.0.1", "11.0.0.1", "2606:4700::1111", "64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"} {
		t.Run(ip, func(t *testing.T) {
			t.Parallel()
			what, isSpecial := classify(netip.MustParseAddr(ip))
			require.False(t, isSpecial, "%s classified as %s", ip, what)
		})
	}
	// classify unmaps by itself, so no caller can forget it.
	what, isSpecial := classify(netip.MustParseAddr("::ffff:127.0.0.1"))
	require.True(t, isSpecial)
	require.Equal(t, "a loopback address", what)
}

func TestListedAddressesLiftTheRefusal(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		patterns []string
		addr     string
		allowed  bool
	}{
		{"listed range", []string{"*.example.test", "10.0.0.0/8"}, "app.example.test:443", true},
		{"listed range other port", []string{"*.example.test", "10.0.0.0/8:8443"}, "app.example.test:443", false},
		{"listed range other range", []string{"*.example.test", "192.168.0.0/16"}, "app.example.test:443", false},
		{"listed exact name", []string{"app.example.test"}, "app.example.test:443", true},
		{"listed exact name with port", []string{"app.example.test:443"}, "app.example.test:443", true},
		{"default host is no licence", nil, "hub.handy.la:443", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := &fakeResolver{answers: map[string][]string{"app.example.test": {"10.1.2.3"}, "hub.handy.la": {"10.1.2.3"}}}
			p, err := NewPolicy(tc.patterns, WithResolver(res))
			require.NoError(t, err)
			host, _, err := net.SplitHostPort(tc.addr)
			require.NoError(t, err)
			refusal := p.checkAddr(mustTarget(t, tc.addr), netip.MustParseAddr(res.answers[host][0]))
			if tc.allowed {
				require.NoError(t, refusal)
			} else {
				require.ErrorContains(t, refusal, "it resolves to 10.1.2.3, a private address")
			}
		})
	}
}

func mustTarget(t *testing.T, addr string) target {
	t.Helper()
	tg, err := dialTarget(addr)
	require.NoError(t, err)
	return tg
}

func TestDialRefusals(t *testing.T) {
	t.Parallel()
	res := &fakeResolver{answers: map[string][]string{"v6.example.test": {"2606:4700::1111"}}}
	p, err := NewPolicy([]string{"*.example.test"}, WithResolver(res))
	require.NoError(t, err)
	_, err = p.DialContext(t.Context(), "udp", "v6.example.test:53")
	require.ErrorContains(t, err, `network "udp" is not supported`)
	_, err = p.DialContext(t.Context(), "tcp4", "v6.example.test:443")
	require.ErrorContains(t, err, "has no tcp4 address")
	_, err = p.DialContext(t.Context(), "tcp", "127.0.0.1:80")
	require.ErrorContains(t, err, "host 127.0.0.1:80 is not allowed: it matches no allowed host pattern")
	_, err = p.DialContext(t.Context(), "tcp", "missing.example.test:80")
	require.ErrorContains(t, err, "resolve missing.example.test")
	_, err = p.DialContext(t.Context(), "tcp", "hub.handy.la:80")
	require.ErrorContains(t, err, "host hub.handy.la:80 is not allowed", "a default host is dialled on port 443 only")
	_, err = p.DialContext(t.Context(), "tcp", "no-port")
	require.ErrorContains(t, err, "not host:port")
}

// server starts an httptest server on 127.0.0.1 that counts its requests.
func server(t *testing.T, h http.HandlerFunc) (srv *httptest.Server, port string, hits *atomic.Int32) {
	t.Helper()
	hits = new(atomic.Int32)
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	return srv, u.Port(), hits
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// get sends GET url with the policy's client and returns the body or the error.
func get(t *testing.T, p *Policy, rawURL string) (string, error) {
	t.Helper()
	c := p.HTTPClient(2)
	t.Cleanup(c.CloseIdleConnections)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b), nil
}

func TestHTTPClientDialsLoopbackOnlyWhenListed(t *testing.T) {
	t.Parallel()
	_, port, hits := server(t, ok)
	other := strconv.Itoa(mustAtoi(t, port) + 1)
	cases := []struct {
		name     string
		patterns []string
		url      string
		wantErr  string
	}{
		{"not listed", nil, "http://127.0.0.1:" + port + "/", "host 127.0.0.1:" + port + " is not allowed: it matches no allowed host pattern"},
		{"other address listed", []string{"127.0.0.2"}, "http://127.0.0.1:" + port + "/", "matches no allowed host pattern"},
		{"listed on another port", []string{"127.0.0.1:" + other}, "http://127.0.0.1:" + port + "/", "matches no allowed host pattern"},
		{"listed", []string{"127.0.0.1"}, "http://127.0.0.1:" + port + "/", ""},
		{"listed with port", []string{"127.0.0.1:" + port}, "http://127.0.0.1:" + port + "/", ""},
		{"listed range", []string{"127.0.0.0/8"}, "http://127.0.0.1:" + port + "/", ""},
		{"listed mapped form", []string{"127.0.0.1"}, "http://[::ffff:127.0.0.1]:" + port + "/", ""},
		{"localhost listed by name", []string{"localhost"}, "http://localhost:" + port + "/", ""},
		{"localhost by name not listed", []string{"127.0.0.1"}, "http://localhost:" + port + "/", "matches no allowed host pattern"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPolicy(tc.patterns)
			require.NoError(t, err)
			before := hits.Load()
			body, err := get(t, p, tc.url)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, "ok", body)
				require.Equal(t, before+1, hits.Load())
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			var na *NotAllowedError
			require.ErrorAs(t, err, &na)
			require.Equal(t, before, hits.Load(), "a refused request must not reach the server")
		})
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

// TestRebindingIsRefusedAtDial plays a DNS server that points an allowed name at the loopback
// address: the URL passes CheckURL (names are not resolved there), but the dial refuses it, once,
// without a second lookup that a rebinding server could answer differently.
func TestRebindingIsRefusedAtDial(t *testing.T) {
	t.Parallel()
	_, port, hits := server(t, ok)
	cases := []struct {
		name     string
		patterns []string
		answers  []string
		wantErr  string
	}{
		{"wildcard to loopback", []string{"*.example.test"}, []string{"127.0.0.1"}, "it resolves to 127.0.0.1, a loopback address"},
		{"public and loopback", []string{"*.example.test"}, []string{"203.0.113.7", "127.0.0.1"}, "it resolves to 127.0.0.1, a loopback address"},
		{"wide wildcard to metadata", []string{"*.test"}, []string{"169.254.169.254"}, "it resolves to 169.254.169.254, a cloud metadata address"},
		{"wildcard and listed address", []string{"*.example.test", "127.0.0.1"}, []string{"127.0.0.1"}, ""},
		{"exact name", []string{"app.example.test"}, []string{"127.0.0.1"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := &fakeResolver{answers: map[string][]string{"app.example.test": tc.answers}}
			p, err := NewPolicy(tc.patterns, WithResolver(res))
			require.NoError(t, err)
			u := "http://app.example.test:" + port + "/"
			require.NoError(t, p.CheckURL(u))
			before := hits.Load()
			body, err := get(t, p, u)
			require.Equal(t, 1, res.Calls(), "the name is resolved once per dial")
			if tc.wantErr == "" {
				// The system resolver cannot resolve example.test: the request can only have
				// arrived by dialling the address the policy resolved and checked.
				require.NoError(t, err)
				require.Equal(t, "ok", body)
				require.Equal(t, before+1, hits.Load())
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			var na *NotAllowedError
			require.ErrorAs(t, err, &na)
			require.Equal(t, "app.example.test:"+port, na.Host)
			require.Equal(t, before, hits.Load())
		})
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	_, otherPort, otherHits := server(t, ok)
	var self string
	srv, port, hits := server(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			w.Header().Set("Location", "http://127.0.0.1:"+otherPort+"/x?token=s3cret")
			w.WriteHeader(http.StatusFound)
			_, _ = io.WriteString(w, "BODY-MUST-NOT-LEAK")
		case "/by-name":
			w.Header().Set("Location", "http://localhost:"+otherPort+"/")
			w.WriteHeader(http.StatusFound)
		case "/https":
			w.Header().Set("Location", "https"+strings.TrimPrefix(self, "http")+"/")
			w.WriteHeader(http.StatusFound)
		case "/ftp":
			w.Header().Set("Location", "ftp"+strings.TrimPrefix(self, "http")+"/")
			w.WriteHeader(http.StatusFound)
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			_, _ = io.WriteString(w, "final")
		default: // /loop/N redirects to /loop/N+1 for ever
			n := mustAtoi(t, strings.TrimPrefix(r.URL.Path, "/loop/"))
			http.Redirect(w, r, self+"/loop/"+strconv.Itoa(n+1), http.StatusFound)
		}
	})
	self = srv.URL
	p, err := NewPolicy([]string{"127.0.0.1", "localhost"})
	require.NoError(t, err)

	cases := []struct {
		name, path, wantErr string
		wantHits            int32
	}{
		{"other port", "/away", "a redirect from http://127.0.0.1:" + port + " to http://127.0.0.1:" + otherPort + " leaves the original scheme, host and port", 1},
		{"other name", "/by-name", "to http://localhost:" + otherPort + " leaves", 1},
		{"other scheme", "/https", "to https://127.0.0.1:" + port + " leaves", 1},
		{"not http", "/ftp", `scheme "ftp" is not supported`, 1},
		{"same origin", "/same", "", 2},
		{"five and no more", "/loop/0", "stopped after 5 redirects", 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, otherBefore := hits.Load(), otherHits.Load()
			body, err := get(t, p, self+tc.path)
			require.Equal(t, tc.wantHits, hits.Load()-before)
			require.Equal(t, otherBefore, otherHits.Load(), "a refused redirect must not reach its target")
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, "final", body)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.NotContains(t, err.Error(), "BODY-MUST-NOT-LEAK")
			// net/http names the Location in its url.Error; the policy's own message names only
			// scheme, host and port.
			var na *NotAllowedError
			if errors.As(err, &na) {
				require.NotContains(t, na.Error(), "token=")
			}
		})
	}
}

func TestHTTPClientTransport(t *testing.T) {
	t.Parallel()
	p, err := NewPolicy(nil)
	require.NoError(t, err)
	c := p.HTTPClient(7)
	ct, isChecked := c.Transport.(*checkedTransport)
	require.True(t, isChecked)
	require.Nil(t, ct.next.Proxy, "a proxy would connect to the target unchecked")

	// The bounds are those of the client it replaces.
	want := apiclient.NewHTTPClient(7).Transport.(*http.Transport)
	require.Equal(t, want.TLSHandshakeTimeout, ct.next.TLSHandshakeTimeout)
	require.Equal(t, want.ResponseHeaderTimeout, ct.next.ResponseHeaderTimeout)
	require.Equal(t, want.MaxIdleConnsPerHost, ct.next.MaxIdleConnsPerHost)
	require.Equal(t, want.IdleConnTimeout, ct.next.IdleConnTimeout)
	require.Equal(t, dialTimeout, p.dialer.Timeout)
	require.Equal(t, keepAlive, p.dialer.KeepAlive)

	// Requests are checked even when nobody called CheckURL; these fail before any network use.
	_, err = get(t, p, "http://hub.handy.la/api/v2/")
	require.ErrorContains(t, err, "only allowed over https on port 443")
	_, err = get(t, p, "https://user:pw@hub.handy.la/")
	require.ErrorContains(t, err, "user name or password")
	var na *NotAllowedError
	require.True(t, errors.As(err, &na))
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	p, err := NewPolicy([]string{" *.example.com ", "10.0.0.0/8"})
	require.NoError(t, err)
	require.Equal(t, []string{"https://hub.handy.la:443", "https://api.bind.com.mx:443", "*.example.com", "10.0.0.0/8"}, p.Patterns())
}
