// Package bind is a typed client for Bind ERP's public REST API, for the calls the sync needs.
//
// Reads are retried with exponential backoff and jitter on 429, 5xx and timeouts; PUT and DELETE
// too, since repeating them changes nothing. A POST creates a record every time it lands, so it is
// never retried after it may have reached Bind: the caller gets ErrOutcomeUnknown and must look the
// record up first. Each Client (one per connection) has its own rate limiter and concurrency cap.
package bind

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/handybind/handybind/internal/apiclient"
	"golang.org/x/time/rate"
)

// DefaultBaseURL is Bind's production API.
const DefaultBaseURL = "https://api.bind.com.mx"

// PageSize is the most Bind returns per page.
const PageSize = 100

// Options configure a Client. Zero values take the defaults in brackets.
type Options struct {
	BaseURL string // [DefaultBaseURL]
	Token   string // the API key, sent as a Bearer token
	// HTTPClient sends the requests [a client with sane transport timeouts].
	HTTPClient *http.Client
	// RequestsPerSecond and Burst bound the request rate [5, 5]. Bind publishes no limit; this keeps
	// a connection well below any daily quota while staying fast.
	RequestsPerSecond float64
	Burst             int
	// MaxConcurrent caps requests in flight [4].
	MaxConcurrent int
	// MaxAttempts is how often a retryable call is tried in all [5].
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff between attempts [200ms, 10s].
	RetryBase, RetryMax time.Duration
	// MaxRetryAfter is the longest Retry-After honoured; a longer one ends the call [60s].
	MaxRetryAfter time.Duration
	// AttemptTimeout bounds one attempt when the context allows longer [30s].
	AttemptTimeout time.Duration
}

// Client calls one Bind company with one API key.
type Client struct {
	base    *url.URL
	token   string
	http    *http.Client
	limiter *rate.Limiter
	slots   chan struct{}
	opts    Options
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	base, err := apiclient.ParseBase("bind", o.BaseURL)
	if err != nil {
		return nil, err
	}
	if o.Token == "" {
		return nil, errors.New("bind: no API key")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = apiclient.NewHTTPClient(8)
	}
	if o.RequestsPerSecond == 0 {
		o.RequestsPerSecond = 5
	}
	if o.Burst == 0 {
		o.Burst = 5
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = 4
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	if o.RetryBase == 0 {
		o.RetryBase = 200 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.MaxRetryAfter == 0 {
		o.MaxRetryAfter = time.Minute
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	return &Client{
		base:    base,
		token:   o.Token,
		http:    o.HTTPClient,
		limiter: rate.NewLimiter(rate.Limit(o.RequestsPerSecond), o.Burst),
		slots:   make(chan struct{}, o.MaxConcurrent),
		opts:    o,
	}, nil
}

// call is one logical API call, possibly sent several times.
type call struct {
	method string
	path   string // path and query, below the base URL
	body   []byte
	out    any
}

// retriesAfterSend says whether the call may be repeated after it may have reached Bind. A POST
// would create twice; a DELETE sent again after it landed reaches an order already cancelled, so
// its caller reads the order's state instead (ErrOutcomeUnknown).
func (c call) retriesAfterSend() bool {
	return c.method != http.MethodPost && c.method != http.MethodDelete
}

func (c *Client) do(ctx context.Context, cl call) error {
	for attempt := 1; ; attempt++ {
		wait, err := c.attempt(ctx, cl)
		if err == nil {
			return nil
		}
		if wait < 0 || attempt >= c.opts.MaxAttempts {
			return err
		}
		if wait == 0 {
			wait = apiclient.Backoff(attempt, c.opts.RetryBase, c.opts.RetryMax)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

type writeGuardKey struct{}

// WithWriteGuard returns a context under which each attempt of a call that changes Bind (any
// method but GET) asks guard just before it is sent, retries included: an error from guard ends
// the call unsent, with that error. A sync uses it to stop writing once its lease has run out.
func WithWriteGuard(ctx context.Context, guard func() error) context.Context {
	return context.WithValue(ctx, writeGuardKey{}, guard)
}

// attempt sends the call once. It returns the error and how long to wait before trying again:
// 0 for the default backoff, a positive duration when the server said, -1 for "do not retry".
func (c *Client) attempt(ctx context.Context, cl call) (time.Duration, error) {
	if err := c.limiter.Wait(ctx); err != nil {
		return -1, err
	}
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	defer func() { <-c.slots }()
	// Asked last, after the waits for the rate and a slot, so that it judges the moment of sending.
	if guard, ok := ctx.Value(writeGuardKey{}).(func() error); ok && cl.method != http.MethodGet {
		if err := guard(); err != nil {
			return -1, err
		}
	}

	actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
	defer cancel()
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, c.base.String()+cl.path, body)
	if err != nil {
		return -1, fmt.Errorf("bind: building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return c.transportError(ctx, cl, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		// The status line came back but the body did not: for a POST the write happened.
		return c.transportError(ctx, cl, err)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if cl.out == nil || res.StatusCode == http.StatusNoContent {
			return 0, nil
		}
		if err := json.Unmarshal(raw, cl.out); err != nil {
			return -1, fmt.Errorf("bind %s %s: malformed response: %w", cl.method, apiclient.PathOnly(cl.path), err)
		}
		return 0, nil
	}
	apiErr := &APIError{Method: cl.method, Path: apiclient.PathOnly(cl.path), Status: res.StatusCode, Body: apiclient.TrimBody(raw)}
	var msg struct{ Message, Code json.RawMessage }
	if json.Unmarshal(raw, &msg) == nil {
		apiErr.Message, apiErr.Code = jsonText(msg.Message), jsonText(msg.Code)
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		// Rejected before it was applied: safe to repeat, POST included, after the wait asked for.
		wait, ok := retryAfter(res.Header.Get("Retry-After"), time.Now())
		if ok && wait > c.opts.MaxRetryAfter {
			return -1, apiErr
		}
		return wait, apiErr
	case res.StatusCode >= 500 && !cl.retriesAfterSend():
		return -1, fmt.Errorf("%w: %w", ErrOutcomeUnknown, apiErr)
	case apiErr.Retryable():
		return 0, apiErr
	}
	return -1, apiErr
}

// transportError classifies a failure to get an answer. A dial failure never reached Bind and may
// be retried for any method; anything later may have, so a POST gets ErrOutcomeUnknown.
func (c *Client) transportError(ctx context.Context, cl call, err error) (time.Duration, error) {
	var op *net.OpError
	notSent := errors.As(err, &op) && op.Op == "dial"
	wrapped := fmt.Errorf("bind %s %s: %w", cl.method, apiclient.PathOnly(cl.path), err)
	if ctx.Err() != nil {
		if !notSent && !cl.retriesAfterSend() {
			return -1, fmt.Errorf("%w: %w", ErrOutcomeUnknown, wrapped)
		}
		return -1, wrapped
	}
	if notSent || cl.retriesAfterSend() {
		return 0, wrapped
	}
	return -1, fmt.Errorf("%w: %w", ErrOutcomeUnknown, wrapped)
}

// jsonText reads a JSON string or number as text, so a numeric Code is kept too.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(h string, now time.Time) (time.Duration, bool) {
	if h == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil && secs >= 0 {
		return time.Duration(secs)*time.Second + time.Millisecond, true
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return time.Millisecond, true
	}
	return 0, false
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, call{method: http.MethodGet, path: path, out: out})
}

func (c *Client) send(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("bind: encoding %s %s: %w", method, path, err)
	}
	return c.do(ctx, call{method: method, path: path, body: body, out: out})
}

// create POSTs a new record and returns its id, which Bind answers as a bare JSON string.
func (c *Client) create(ctx context.Context, path string, in any) (string, error) {
	var id string
	if err := c.send(ctx, http.MethodPost, path, in, &id); err != nil {
		return "", err
	}
	if _, err := uuid.Parse(id); err != nil {
		return "", fmt.Errorf("%w: bind POST %s answered %q, not a record id", ErrOutcomeUnknown, path, id)
	}
	return id, nil
}

// idPath joins a resource and a record id, refusing anything that is not a GUID so that no text
// can change the path.
func idPath(resource, id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", fmt.Errorf("bind: %q is not a record id (GUID)", id)
	}
	return resource + "/" + u.String(), nil
}

// Query selects and orders a list.
type Query struct {
	Filter Filter
	// OrderBy orders the list, e.g. "Number desc"; field names only. The list is always paged in
	// an explicit order, ID last, so that a record is neither skipped nor read twice between
	// pages when the other keys tie [ID].
	OrderBy string
	// Top limits the total number of records read; 0 means all.
	Top int
}

// validOrderBy accepts "Field [asc|desc]" terms separated by commas.
func validOrderBy(s string) bool {
	for part := range strings.SplitSeq(s, ",") {
		f := strings.Fields(part)
		if len(f) == 0 || len(f) > 2 || !fieldName.MatchString(f[0]) || (len(f) == 2 && f[1] != "asc" && f[1] != "desc") {
			return false
		}
	}
	return true
}

// orderBy is the $orderby every page is asked for: the caller's order with ID added last.
func (q Query) orderBy() (string, error) {
	if q.OrderBy == "" {
		return "ID", nil
	}
	if !validOrderBy(q.OrderBy) {
		return "", fmt.Errorf("bind: %q is not an $orderby of field names", q.OrderBy)
	}
	for part := range strings.SplitSeq(q.OrderBy, ",") {
		if strings.Fields(part)[0] == "ID" {
			return q.OrderBy, nil
		}
	}
	return q.OrderBy + ",ID", nil
}

// odataEscape escapes a query value with %20 for spaces, as OData servers expect.
func odataEscape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// list pages through a resource: $skip over an explicit $orderby, $top at most PageSize, until a
// page holds fewer rows than it asked for. Bind's nextLink is not followed: an OData server may
// leave it out, and a list that relied on it would stop after the first page without a word.
func list[T any](c *Client, ctx context.Context, resource string, q Query) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		orderBy, err := q.orderBy()
		if err != nil {
			yield(zero, err)
			return
		}
		fixed := "$orderby=" + odataEscape(orderBy)
		if !q.Filter.IsZero() {
			fixed = "$filter=" + odataEscape(q.Filter.String()) + "&" + fixed
		}
		seen := 0
		for skip := 0; ; {
			top := PageSize
			if q.Top > 0 {
				top = min(top, q.Top-seen)
			}
			var page Page[T]
			if err := c.get(ctx, resource+"?"+fixed+"&$skip="+strconv.Itoa(skip)+"&$top="+strconv.Itoa(top), &page); err != nil {
				yield(zero, err)
				return
			}
			for _, item := range page.Value {
				if !yield(item, nil) {
					return
				}
				seen++
				if q.Top > 0 && seen >= q.Top {
					return
				}
			}
			if len(page.Value) < top {
				return
			}
			skip += len(page.Value)
		}
	}
}

// All collects a list.
func All[T any](seq iter.Seq2[T, error]) ([]T, error) { return apiclient.All(seq) }
