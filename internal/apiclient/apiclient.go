// Package apiclient holds the plumbing the Bind and Handy clients share: base-URL checks, an HTTP
// client with bounded timeouts, jittered backoff, and helpers for error text and iterators.
package apiclient

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ParseBase checks that raw is an absolute http(s) URL and returns it without a trailing slash.
func ParseBase(api, raw string) (*url.URL, error) {
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("%s: base URL %q is not an absolute http(s) URL", api, raw)
	}
	return base, nil
}

// NewHTTPClient returns a client whose every phase is bounded, so a silent peer cannot hold a sync.
func NewHTTPClient(maxIdlePerHost int) *http.Client {
	t := NewTransport(maxIdlePerHost, (&net.Dialer{Timeout: DialTimeout, KeepAlive: KeepAlive}).DialContext)
	t.Proxy = http.ProxyFromEnvironment
	return &http.Client{Transport: t}
}

// Dialer bounds shared by every outbound client.
const (
	DialTimeout = 10 * time.Second
	KeepAlive   = 30 * time.Second
)

// NewTransport is the bounded transport of the API clients, dialling with dial and using no proxy.
func NewTransport(maxIdlePerHost int, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *http.Transport {
	return &http.Transport{
		DialContext:           dial,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
	}
}

// Backoff is exponential with full jitter: clients that failed together do not retry together.
func Backoff(attempt int, base, ceiling time.Duration) time.Duration {
	d := base << (attempt - 1)
	if d <= 0 || d > ceiling {
		d = ceiling
	}
	return time.Duration(rand.Int64N(int64(d))) + time.Millisecond
}

// PathOnly drops the query of a path, for error messages (queries can be long and hold filters).
func PathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// TrimBody keeps a bounded part of a response body for errors and the run log.
func TrimBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2048 {
		s = s[:2048] + "…"
	}
	return s
}

// All collects a paged list.
func All[T any](seq iter.Seq2[T, error]) ([]T, error) {
	var out []T
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// StatusReason is a short reason of our own for an HTTP status from Handy or Bind. Errors that
// reach callers carry it instead of the upstream body, which could hold anything the far side
// chose to say (or, from a host that is not the real API, what an internal service revealed).
func StatusReason(status int) string {
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		return "the request was refused as invalid"
	case status == http.StatusUnauthorized:
		return "the credentials were rejected"
	case status == http.StatusForbidden:
		return "the credentials may not do this"
	case status == http.StatusNotFound:
		return "not found"
	case status == http.StatusConflict:
		return "conflict with the current state"
	case status == http.StatusTooManyRequests:
		return "rate limited"
	case status >= 500:
		return "the service failed"
	case status >= 300 && status < 400:
		return "unexpected redirect"
	}
	return "unexpected answer"
}
