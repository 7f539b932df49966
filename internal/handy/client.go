// Package handy is a typed client for Handy's API v2, for what the sync reads (users, products,
// customers, sales orders) and the one thing it writes (an order's externalId).
//
// Request windows are sent in Handy's format dd/MM/yyyy HH:mm:ss, in the account's time zone, an
// explicit setting that is never the machine's zone. Lists are paged with max=100 by following
// pagination.nextPage. A 429 waits until X-RateLimit-Reset (bounded), and every client of one
// Handy account draws on one shared request budget below Handy's 500 a minute.
package handy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/handybind/handybind/internal/apiclient"
)

// DefaultBaseURL is Handy's production API.
const DefaultBaseURL = "https://hub.handy.la/api/v2"

// DefaultTimeZone is the zone Handy reads request windows in, unless the account says otherwise.
const DefaultTimeZone = "America/Mexico_City"

// PageSize is the largest page Handy serves.
const PageSize = 100

// RequestsPerMinute is the budget a client keeps to, below Handy's limit of 500.
const RequestsPerMinute = 400

// ErrCredentialsRejected is wrapped by every error for a 401: the token was revoked or is wrong.
var ErrCredentialsRejected = errors.New("handy: the API token was rejected")

// ErrNotFound is wrapped when Handy answers 404 for one record.
var ErrNotFound = errors.New("handy: not found")

// APIError is an answer from Handy with a status that is not success.
type APIError struct {
	Method, Path string
	Status       int
	// Body is the raw body, trimmed, for the run log.
	Body string
}

// Error names the system, the call, the status and a reason of ours; never Handy's body (see
// apiclient.StatusReason), which is kept in Body for the server log.
func (e *APIError) Error() string {
	return fmt.Sprintf("Handy %s %s: HTTP %d (%s)", e.Method, e.Path, e.Status, apiclient.StatusReason(e.Status))
}

// Unwrap makes a 401 match ErrCredentialsRejected and a 404 ErrNotFound.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusUnauthorized:
		return ErrCredentialsRejected
	case http.StatusNotFound:
		return ErrNotFound
	}
	return nil
}

// Budget is an account's request budget: Wait returns when one more request may be sent, or
// with ctx's error. A *rate.Limiter is one, kept in this process.
type Budget interface {
	Wait(ctx context.Context) error
}

// NewBudget is a budget of RequestsPerMinute kept in this process, with bursts of BudgetBurst.
func NewBudget() Budget {
	return rate.NewLimiter(rate.Limit(float64(RequestsPerMinute)/60), BudgetBurst)
}

// BudgetBurst is how many requests an account's idle budget lets go at once.
const BudgetBurst = 20

// Budgets hands out one request budget per Handy account (per token), so that every sync of an
// account shares it. The zero value keeps budgets in this process.
type Budgets struct {
	// Shared, when set, makes an account's budget one that every replica takes from: Handy
	// counts requests per account, not per process. The account is named by a keyed hash of its
	// token (see Key).
	Shared func(account [32]byte) Budget
	// Key, when set, keys the hash that names an account (HMAC-SHA256), so that a copy of the
	// database cannot confirm a guessed token against the names it holds. Replicas that share
	// budgets must share it.
	Key []byte

	mu      sync.Mutex
	budgets map[[32]byte]Budget
}

// For returns the budget of the account the token belongs to.
func (b *Budgets) For(token string) Budget {
	var key [32]byte
	if b.Key != nil {
		mac := hmac.New(sha256.New, b.Key)
		mac.Write([]byte(token))
		mac.Sum(key[:0])
	} else {
		key = sha256.Sum256([]byte(token))
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.budgets == nil {
		b.budgets = map[[32]byte]Budget{}
	}
	l, ok := b.budgets[key]
	if !ok {
		if b.Shared != nil {
			l = b.Shared(key)
		} else {
			l = NewBudget()
		}
		b.budgets[key] = l
	}
	return l
}

// Options configure a Client. Zero values take the defaults in brackets.
type Options struct {
	BaseURL string // [DefaultBaseURL]
	Token   string
	// Location is the account's time zone for request windows [America/Mexico_City].
	Location *time.Location
	// Budget is the account's shared request budget [a new one of RequestsPerMinute].
	Budget     Budget
	HTTPClient *http.Client
	// MaxAttempts is how often a call is tried in all [5].
	MaxAttempts int
	// RetryBase and RetryMax bound the backoff after a 5xx or a timeout [250ms, 10s].
	RetryBase, RetryMax time.Duration
	// MaxRateLimitWait is the longest wait for X-RateLimit-Reset; longer ends the call [2m].
	MaxRateLimitWait time.Duration
	// AttemptTimeout bounds one attempt [30s].
	AttemptTimeout time.Duration
}

// Client reads one Handy account.
type Client struct {
	base *url.URL
	opts Options
}

// New returns a Client.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	base, err := apiclient.ParseBase("handy", o.BaseURL)
	if err != nil {
		return nil, err
	}
	if o.Token == "" {
		return nil, errors.New("handy: no API token")
	}
	if o.Location == nil {
		if o.Location, err = time.LoadLocation(DefaultTimeZone); err != nil {
			return nil, fmt.Errorf("handy: %w", err)
		}
	}
	if o.Budget == nil {
		o.Budget = NewBudget()
	}
	if o.HTTPClient == nil {
		o.HTTPClient = apiclient.NewHTTPClient(4)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	if o.RetryBase == 0 {
		o.RetryBase = 250 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 10 * time.Second
	}
	if o.MaxRateLimitWait == 0 {
		o.MaxRateLimitWait = 2 * time.Minute
	}
	if o.AttemptTimeout == 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	return &Client{base: base, opts: o}, nil
}

// do sends one call, retrying on 429 (after the reset), 5xx and timeouts. Every call the client
// makes is a read or an idempotent PUT, so repeating it is safe.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	for attempt := 1; ; attempt++ {
		wait, err := c.attempt(ctx, method, path, body, out)
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

func (c *Client) attempt(ctx context.Context, method, path string, body []byte, out any) (time.Duration, error) {
	if err := c.opts.Budget.Wait(ctx); err != nil {
		return -1, err
	}
	actx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	}
	req, err := http.NewRequestWithContext(actx, method, c.base.String()+path, rd)
	if err != nil {
		return -1, fmt.Errorf("handy: building request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("handy %s %s: %w", method, apiclient.PathOnly(path), err)
		}
		return 0, fmt.Errorf("handy %s %s: %w", method, apiclient.PathOnly(path), err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return 0, fmt.Errorf("handy %s %s: reading answer: %w", method, apiclient.PathOnly(path), err)
	}
	if res.StatusCode >= 200 && res.StatusCode < 300 {
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				return -1, fmt.Errorf("handy %s %s: malformed response: %w", method, apiclient.PathOnly(path), err)
			}
		}
		return 0, nil
	}
	apiErr := &APIError{Method: method, Path: apiclient.PathOnly(path), Status: res.StatusCode, Body: apiclient.TrimBody(raw)}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		wait := rateLimitWait(res.Header, time.Now())
		if wait > c.opts.MaxRateLimitWait {
			return -1, fmt.Errorf("%w (reset in %s, longer than the %s this client waits)", apiErr, wait.Round(time.Second), c.opts.MaxRateLimitWait)
		}
		return wait, apiErr
	case res.StatusCode >= 500:
		return 0, apiErr
	}
	return -1, apiErr
}

// rateLimitWait reads X-RateLimit-Reset (a Unix time); without it, Handy's own samples wait a minute.
func rateLimitWait(h http.Header, now time.Time) time.Duration {
	if reset, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil {
		if d := time.Unix(reset, 0).Sub(now); d > 0 {
			return d + 50*time.Millisecond
		}
		return 50 * time.Millisecond
	}
	return time.Minute
}

// list pages through a collection by following pagination.nextPage, using only its query, always
// against the configured base URL, until it is null.
func list[T any](c *Client, ctx context.Context, resource, field string, q url.Values) iter.Seq2[T, error] {
	return listCounted[T](c, ctx, resource, field, q, nil, false)
}

// maxRewinds bounds how often one listing goes back for items that moved to pages already read.
const maxRewinds = 20

// listCounted is list that also tells onTotal, once, how many items the whole list has (Handy's
// totalCount on the first page), before the first item.
//
// Handy pages by position. When items leave the list while it is read (a sale deleted, or edited,
// which deletes it), those after them move towards the first page, and as many as left slip onto
// pages already read, never to be seen. With rewind, a page whose totalCount is lower than the
// previous page's sends the listing back over as many pages as could hold what moved, so every
// item is seen (some twice: the caller de-duplicates).
func listCounted[T any](c *Client, ctx context.Context, resource, field string, q url.Values, onTotal func(int), rewind bool) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		q.Set("max", strconv.Itoa(PageSize))
		if q.Get("page") == "" {
			q.Set("page", "1")
		}
		next := resource + "?" + encode(q)
		total, rewinds := int64(-1), 0
		for next != "" {
			var page map[string]json.RawMessage
			if err := c.do(ctx, http.MethodGet, next, nil, &page); err != nil {
				yield(zero, err)
				return
			}
			var items []T
			if raw, ok := page[field]; ok {
				if err := json.Unmarshal(raw, &items); err != nil {
					yield(zero, fmt.Errorf("handy GET %s: malformed %s: %w", resource, field, err))
					return
				}
			} else {
				yield(zero, fmt.Errorf("handy GET %s: the answer has no %q list", resource, field))
				return
			}
			var p Pagination
			if raw, ok := page["pagination"]; ok {
				if err := json.Unmarshal(raw, &p); err != nil {
					yield(zero, fmt.Errorf("handy GET %s: malformed pagination: %w", resource, err))
					return
				}
			}
			if onTotal != nil {
				onTotal(int(p.TotalCount))
				onTotal = nil
			}
			if rewind && total >= 0 && p.TotalCount < total {
				if rewinds++; rewinds > maxRewinds {
					yield(zero, fmt.Errorf("handy GET %s: the list kept shrinking while it was read (%d times); read it again later", resource, maxRewinds))
					return
				}
				back, err := pageBack(next, int((total-p.TotalCount+PageSize-1)/PageSize))
				if err != nil {
					yield(zero, fmt.Errorf("handy GET %s: %w", resource, err))
					return
				}
				total, next = p.TotalCount, back
				continue
			}
			total = p.TotalCount
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			next = ""
			if p.NextPage != nil && *p.NextPage != "" && len(items) > 0 {
				u, err := url.Parse(*p.NextPage)
				if err != nil || !strings.EqualFold(strings.TrimSuffix(u.Path, "/"), c.base.Path+resource) {
					yield(zero, fmt.Errorf("handy GET %s: nextPage %q does not continue the list", resource, *p.NextPage))
					return
				}
				next = resource + "?" + u.RawQuery
			}
		}
	}
}

// pageBack is the request for the page n before the one requested by req (never before the first).
func pageBack(req string, n int) (string, error) {
	path, raw, _ := strings.Cut(req, "?")
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", fmt.Errorf("reading the page requested: %w", err)
	}
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	q.Set("page", strconv.Itoa(max(1, page-n)))
	return path + "?" + encode(q), nil
}

// encode writes query values the way Handy's documentation shows them: spaces as %20, and the
// slashes and colons of dates left as they are.
func encode(q url.Values) string {
	s := q.Encode()
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "%2F", "/")
	return strings.ReplaceAll(s, "%3A", ":")
}

// All collects a list.
func All[T any](seq iter.Seq2[T, error]) ([]T, error) { return apiclient.All(seq) }
