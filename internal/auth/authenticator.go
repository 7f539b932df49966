package auth

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/store"
)

// CacheTTL is how long a key, once looked up, is trusted without asking storage again: the bound
// on how long a revoked key keeps working on any replica.
const CacheTTL = 2 * time.Second

// Authenticator turns a presented key or client certificate into a Caller.
type Authenticator struct {
	keys store.KeyStore
	now  func() time.Time
	ttl  time.Duration

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	key     *store.APIKey
	fetched time.Time
}

// NewAuthenticator returns an Authenticator over the stored keys.
func NewAuthenticator(keys store.KeyStore) *Authenticator {
	return &Authenticator{keys: keys, now: time.Now, ttl: CacheTTL, cache: map[string]cached{}}
}

// errNoKey is the answer for anything that is not a live key, so that a caller cannot tell a
// malformed key from an unknown, revoked or expired one.
func errNoKey() error {
	return errs.Unauthenticated("the API key is not valid (unknown, revoked or expired); ask the operator for one made with `handybind keys create`")
}

// ByKey authenticates a bearer key.
func (a *Authenticator) ByKey(ctx context.Context, raw string) (*Caller, error) {
	id, hash, ok := parseKey(raw)
	if !ok {
		return nil, errNoKey()
	}
	k, err := a.lookup(ctx, id, func(ctx context.Context) (*store.APIKey, error) { return a.keys.GetKey(ctx, id) })
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(k.SecretHash, hash) != 1 {
		return nil, errNoKey()
	}
	return a.live(k)
}

// ByCertCN authenticates a verified client certificate by its common name.
func (a *Authenticator) ByCertCN(ctx context.Context, cn string) (*Caller, error) {
	if cn == "" {
		return nil, errNoKey()
	}
	k, err := a.lookup(ctx, "cn:"+cn, func(ctx context.Context) (*store.APIKey, error) { return a.keys.GetKeyByCertCN(ctx, cn) })
	if err != nil {
		return nil, err
	}
	return a.live(k)
}

func (a *Authenticator) live(k *store.APIKey) (*Caller, error) {
	now := a.now()
	if !k.RevokedAt.IsZero() || (!k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)) || CheckRole(k.Role, k.Tenant) != nil {
		return nil, errNoKey()
	}
	return &Caller{KeyID: k.ID, Name: k.Name, Role: k.Role, Tenant: k.Tenant}, nil
}

// lookup reads a key through the short cache. Misses are not cached: a key created a moment ago
// works at once.
func (a *Authenticator) lookup(ctx context.Context, cacheKey string, fetch func(context.Context) (*store.APIKey, error)) (*store.APIKey, error) {
	now := a.now()
	a.mu.Lock()
	c, ok := a.cache[cacheKey]
	a.mu.Unlock()
	if ok && now.Sub(c.fetched) < a.ttl {
		return c.key, nil
	}
	k, err := fetch(ctx)
	if errs.Is(err, errs.KindNotFound) {
		return nil, errNoKey()
	}
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if len(a.cache) > 10000 {
		// Bounded: unknown ids are never cached, so only real keys fill it; start afresh if many.
		clear(a.cache)
	}
	a.cache[cacheKey] = cached{key: k, fetched: now}
	a.mu.Unlock()
	return k, nil
}
