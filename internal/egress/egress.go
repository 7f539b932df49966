// Package egress decides where the service may open outbound connections. A connection's base URL
// is chosen by whoever calls the API, and the clients send stored secret tokens to it, so an
// unchecked URL could turn the service into a probe of internal addresses (SSRF, port scans, cloud
// metadata) or hand a token to a stranger. One Policy, built from the patterns the operator lists
// with --allow-hosts (HANDYBIND_ALLOW_HOSTS), is given to both API clients.
//
// The policy is applied twice. CheckURL judges a base URL when it is set, so a caller learns at once
// why it is refused. DialContext judges every connection again at dial time, after resolving the
// name itself, and then dials exactly the address it checked: a DNS answer that changes between the
// check and the connect (DNS rebinding), a redirect or a URL changed later cannot get past it.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/handybind/handybind/internal/apiclient"
)

// Flag and EnvVar name the operator setting that lists extra allowed hosts. They are exported so the
// command line and the error hints of this package cannot drift apart.
const (
	Flag   = "allow-hosts"
	EnvVar = "HANDYBIND_ALLOW_HOSTS"
)

// defaultHosts are the production APIs; they are always allowed, over https on port 443 only,
// because a token must never travel to them in clear text.
var defaultHosts = []string{"hub.handy.la", "api.bind.com.mx"}

// The dialer's bounds are the API clients' own (apiclient.DialTimeout, KeepAlive).
const (
	dialTimeout   = apiclient.DialTimeout
	keepAlive     = apiclient.KeepAlive
	minDialShare  = 2 * time.Second // the least time one of several addresses gets, as in package net
	maxRedirects  = 5
	allowHostHint = "the operator can allow it with --" + Flag + " (" + EnvVar + ")"
)

// Resolver looks up the addresses of a host name. *net.Resolver implements it; tests inject their
// own to play a rebinding DNS server without touching the network.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Option adjusts a Policy at construction, so a built Policy is never changed while in use.
type Option func(*Policy)

// WithResolver makes the policy resolve names with r instead of net.DefaultResolver. It exists for
// tests and for deployments that must use a particular DNS server.
func WithResolver(r Resolver) Option {
	return func(p *Policy) { p.resolver = r }
}

// Policy is the set of hosts the service may call. It is safe for concurrent use.
type Policy struct {
	patterns []pattern // the defaults first, then the operator's
	resolver Resolver
	dialer   *net.Dialer
}

// NotAllowedError says that a URL, a redirect or a connection is refused by the policy. Callers map
// it to an invalid-argument error; its message is meant for them and names no secret.
type NotAllowedError struct {
	// Host is the refused host:port, empty when the URL had no usable host.
	Host string
	// Reason says what is wrong, e.g. "it matches no allowed host pattern".
	Reason string
	// Fix says how to put it right; it may be empty.
	Fix string
}

// Error reads as one sentence: what is refused, why, and how to fix it.
func (e *NotAllowedError) Error() string {
	subject := "the URL"
	if e.Host != "" {
		subject = "host " + e.Host
	}
	msg := subject + " is not allowed: " + e.Reason
	if e.Fix != "" {
		msg += "; " + e.Fix
	}
	return msg
}

// ParsePatterns splits the comma-separated value of --allow-hosts into trimmed patterns and checks
// each, so a typo stops the service at start-up instead of refusing calls later. An empty or blank
// value lists nothing; an empty item between commas is refused as a likely mistake.
func ParsePatterns(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	items := strings.Split(s, ",")
	out := make([]string, 0, len(items))
	var problems []error
	for i, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			problems = append(problems, fmt.Errorf("item %d of %q is empty; separate host[:port] patterns by single commas", i+1, s))
			continue
		}
		if _, err := parsePattern(item); err != nil {
			problems = append(problems, err)
			continue
		}
		out = append(out, item)
	}
	if len(problems) > 0 {
		// Every bad pattern at once, so one edit fixes them all.
		return nil, fmt.Errorf("--%s: %w", Flag, errors.Join(problems...))
	}
	return out, nil
}

// NewPolicy returns a policy that allows the default Handy and Bind hosts over https on port 443
// and, over http or https, every host matching one of patterns. A pattern is host[:port] where host
// is a name (api.example.com), a wildcard subdomain (*.example.com: any name below example.com, not
// example.com itself), an IP address (127.0.0.1, [::1]) or a CIDR range (10.0.0.0/8, [fc00::/7]);
// without a port every port is allowed. A bad pattern is an error that names it.
func NewPolicy(patterns []string, opts ...Option) (*Policy, error) {
	p := &Policy{
		resolver: net.DefaultResolver,
		dialer:   &net.Dialer{Timeout: dialTimeout, KeepAlive: keepAlive},
	}
	for _, h := range defaultHosts {
		p.patterns = append(p.patterns, pattern{text: h, kind: kindName, name: h, port: 443, builtin: true})
	}
	for _, s := range patterns {
		pt, err := parsePattern(s)
		if err != nil {
			return nil, err
		}
		p.patterns = append(p.patterns, pt)
	}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Patterns lists what the policy allows, defaults first, for the start-up log.
func (p *Policy) Patterns() []string {
	out := make([]string, len(p.patterns))
	for i, pt := range p.patterns {
		out[i] = pt.text
		if pt.builtin {
			out[i] = "https://" + pt.text + ":443"
		}
	}
	return out
}

// CheckURL says whether raw may be used as a base URL: it must be an absolute http(s) URL without a
// user name or password whose host and port match a pattern. It does not resolve names; addresses
// are judged when dialling. A refusal is a *NotAllowedError; the raw URL is never echoed because
// its path or query may hold secrets.
func (p *Policy) CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return &NotAllowedError{Reason: "it is not a valid URL", Fix: "give an absolute URL such as https://api.example.com"}
	}
	return p.checkURL(u)
}

func (p *Policy) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &NotAllowedError{Reason: fmt.Sprintf("scheme %q is not supported", u.Scheme), Fix: "use an absolute URL starting with https:// or http://"}
	}
	if u.Host == "" {
		return &NotAllowedError{Reason: "it has no host", Fix: "give an absolute URL such as https://api.example.com"}
	}
	t, err := urlTarget(u)
	if err != nil {
		return err
	}
	if u.User != nil {
		return &NotAllowedError{Host: t.String(), Reason: "the URL carries a user name or password", Fix: "remove the user:password@ part; tokens are configured separately"}
	}
	var builtin *pattern
	for i := range p.patterns {
		pt := &p.patterns[i]
		if !pt.matchesHost(t) {
			if pt.builtin && t.name == pt.name {
				builtin = pt
			}
			continue
		}
		if pt.builtin && u.Scheme != "https" {
			builtin = pt
			continue
		}
		return nil
	}
	if builtin != nil {
		return &NotAllowedError{Host: t.String(),
			Reason: builtin.name + " is only allowed over https on port 443",
			Fix:    "use https://" + builtin.name + ", or the operator can list " + builtin.name + " with --" + Flag + " (" + EnvVar + ")"}
	}
	return &NotAllowedError{Host: t.String(), Reason: "it matches no allowed host pattern", Fix: allowHostHint}
}

// DialContext opens a TCP connection to addr (host:port) if the policy allows it. It resolves a
// name itself, refuses the whole dial if any answer is a special address (loopback, private,
// link-local, metadata...) the operator did not list, and dials the checked addresses, never the
// name, so a second DNS answer cannot differ from the one checked. Timeouts are apiclient's.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("egress: network %q is not supported; only TCP is dialled", network)
	}
	t, err := dialTarget(addr)
	if err != nil {
		return nil, err
	}
	if !p.allowsHost(t) {
		return nil, &NotAllowedError{Host: t.String(), Reason: "it matches no allowed host pattern", Fix: allowHostHint}
	}
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	ips, err := p.resolve(ctx, t, network)
	if err != nil {
		return nil, err
	}
	for _, ip := range ips {
		if err := p.checkAddr(t, ip); err != nil {
			return nil, err
		}
	}
	var firstErr error
	for i, ip := range ips {
		conn, err := p.dialOne(ctx, network, netip.AddrPortFrom(ip, t.port), len(ips)-i)
		if err == nil {
			return conn, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// resolve returns the addresses to dial for t, unmapped and filtered by network family.
func (p *Policy) resolve(ctx context.Context, t target, network string) ([]netip.Addr, error) {
	var all []netip.Addr
	if t.addr.IsValid() {
		all = []netip.Addr{t.addr}
	} else {
		answers, err := p.resolver.LookupIPAddr(ctx, t.name)
		if err != nil {
			return nil, fmt.Errorf("egress: resolve %s: %w", t.name, err)
		}
		for _, a := range answers {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				return nil, fmt.Errorf("egress: resolve %s: malformed address in answer", t.name)
			}
			all = append(all, ip.Unmap())
		}
	}
	var out []netip.Addr
	for _, ip := range all {
		if (network == "tcp4" && !ip.Is4()) || (network == "tcp6" && !ip.Is6()) {
			continue
		}
		out = append(out, ip)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("egress: %s has no %s address", t.name, network)
	}
	return out, nil
}

// dialOne dials one checked address, giving it an equal share of the time left among the
// remaining addresses, so one silent address cannot use up the time of the others.
func (p *Policy) dialOne(ctx context.Context, network string, ap netip.AddrPort, remaining int) (net.Conn, error) {
	if dl, ok := ctx.Deadline(); ok && remaining > 1 {
		share := max(time.Until(dl)/time.Duration(remaining), minDialShare)
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, share)
		defer cancel()
	}
	return p.dialer.DialContext(ctx, network, ap.String())
}

// allowsHost says whether any pattern allows t's host and port, ignoring the scheme, which is not
// known at dial time (CheckURL and the client's transport enforce it).
func (p *Policy) allowsHost(t target) bool {
	for i := range p.patterns {
		if p.patterns[i].matchesHost(t) {
			return true
		}
	}
	return false
}

// checkAddr refuses ip if it is a special address, unless the operator listed it (an IP or CIDR
// pattern covering it on this port) or listed t's exact name. A wildcard or a default host never
// lifts the refusal: a name under someone else's control could resolve anywhere.
func (p *Policy) checkAddr(t target, ip netip.Addr) error {
	what, special := classify(ip)
	if !special {
		return nil
	}
	for _, pt := range p.patterns {
		if pt.builtin || (pt.port != 0 && pt.port != t.port) {
			continue
		}
		if (pt.kind == kindPrefix && pt.prefix.Contains(ip)) || (pt.kind == kindName && !t.addr.IsValid() && pt.name == t.name) {
			return nil
		}
	}
	reason := fmt.Sprintf("%s is %s", ip, what)
	if !t.addr.IsValid() {
		reason = fmt.Sprintf("it resolves to %s, %s", ip, what)
	}
	return &NotAllowedError{Host: t.String(), Reason: reason,
		Fix: "the operator can allow it by listing the address or the exact host name with --" + Flag + " (" + EnvVar + ")"}
}

// HTTPClient returns a client with the bounded transport of apiclient.NewHTTPClient whose every
// connection goes through DialContext, whose every request URL is checked with CheckURL (so the
// scheme rule holds even for a URL nobody checked), and which follows at most five redirects, all to
// the scheme, host and port of the original request.
//
// It never uses a proxy, not even one from HTTP_PROXY or HTTPS_PROXY: through a proxy the dial
// would reach the proxy's address, and the proxy would connect to the real target unchecked.
func (p *Policy) HTTPClient(maxIdlePerHost int) *http.Client {
	return &http.Client{
		// No proxy (see above): a proxy would bypass the address checks.
		Transport:     &checkedTransport{policy: p, next: apiclient.NewTransport(maxIdlePerHost, p.DialContext)},
		CheckRedirect: p.checkRedirect,
	}
}

// checkRedirect refuses a redirect that leaves the original scheme, host and port or that CheckURL
// refuses, and any after the fifth. Its errors never quote the Location's path or the body.
func (p *Policy) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("egress: stopped after %d redirects; set the base URL to the final address", maxRedirects)
	}
	if err := p.checkURL(req.URL); err != nil {
		return err
	}
	from, to := origin(via[0].URL), origin(req.URL)
	if from != to {
		return &NotAllowedError{Host: hostOf(req.URL), Reason: "a redirect from " + from + " to " + to + " leaves the original scheme, host and port",
			Fix: "set the base URL to the address the service redirects to"}
	}
	return nil
}

// checkedTransport checks every request URL before it is sent, so the scheme rule of the default
// hosts and the userinfo rule hold even when a caller skipped CheckURL.
type checkedTransport struct {
	policy *Policy
	next   *http.Transport
}

func (c *checkedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := c.policy.checkURL(req.URL); err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // a RoundTripper must close the body even when it fails
		}
		return nil, err
	}
	return c.next.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the wrapped transport.
func (c *checkedTransport) CloseIdleConnections() { c.next.CloseIdleConnections() }

func origin(u *url.URL) string {
	return u.Scheme + "://" + hostOf(u)
}

func hostOf(u *url.URL) string {
	if t, err := urlTarget(u); err == nil {
		return t.String()
	}
	return u.Host
}

// target is a host and port to judge: a name (lower case, no trailing dot) or a literal address.
type target struct {
	name string     // the host as written, normalised; for an address its text form
	addr netip.Addr // valid when the host is a literal IP address (unmapped)
	port uint16
}

func (t target) String() string {
	return net.JoinHostPort(t.name, strconv.Itoa(int(t.port)))
}

// urlTarget reads the host and port of an absolute http(s) URL; the port defaults by scheme.
func urlTarget(u *url.URL) (target, error) {
	port := u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	return newTarget(u.Hostname(), port)
}

func dialTarget(addr string) (target, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return target{}, fmt.Errorf("egress: dial address %q is not host:port", addr)
	}
	return newTarget(host, port)
}

func newTarget(host, port string) (target, error) {
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return target{}, &NotAllowedError{Host: host, Reason: fmt.Sprintf("port %q is not a number from 1 to 65535", port)}
	}
	t, err := parseHost(host)
	if err != nil {
		return target{}, &NotAllowedError{Host: host, Reason: err.Error()}
	}
	t.port = uint16(n)
	return t, nil
}

// parseHost normalises a host (no brackets or port) into a target with no port.
func parseHost(host string) (target, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return target{}, errors.New("IPv6 zones are not supported")
		}
		ip = ip.Unmap()
		return target{name: ip.String(), addr: ip}, nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if err := checkName(name); err != nil {
		return target{}, err
	}
	return target{name: name}, nil
}

// checkName accepts an ASCII DNS name. A name whose last label is all digits is refused: it is no
// real name but a malformed or shortened IP address (10.0.0.256, 2130706433) that some resolvers
// would turn into an address nobody listed.
func checkName(name string) error {
	if name == "" || len(name) > 253 {
		return errors.New("it is not a valid host name")
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.Trim(l, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return errors.New("it is not a valid host name (use letters, digits, hyphens and dots; write international names in xn-- form)")
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return errors.New("it looks like an IP address but is not a valid one")
	}
	return nil
}
