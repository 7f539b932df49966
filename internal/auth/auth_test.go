package auth

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/store"
)

// memKeys is a KeyStore in memory that counts lookups.
type memKeys struct {
	mu      sync.Mutex
	keys    map[string]*store.APIKey
	lookups int
}

func (m *memKeys) CreateKey(_ context.Context, k *store.APIKey) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[k.ID] = k
	return nil
}

func (m *memKeys) GetKey(_ context.Context, id string) (*store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	if k, ok := m.keys[id]; ok {
		c := *k
		return &c, nil
	}
	return nil, errs.NotFound("key %s not found", id)
}

func (m *memKeys) GetKeyByCertCN(_ context.Context, cn string) (*store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.CertCN == cn && k.RevokedAt.IsZero() {
			c := *k
			return &c, nil
		}
	}
	return nil, errs.NotFound("no key for %s", cn)
}

func (m *memKeys) ListKeys(context.Context, store.KeyFilter) ([]*store.APIKey, error) {
	return nil, nil
}
func (m *memKeys) RevokeKey(_ context.Context, id string) (*store.APIKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.keys[id].RevokedAt = time.Now()
	return m.keys[id], nil
}

func newKeys(t *testing.T) (*memKeys, *Authenticator, string, *store.APIKey) {
	t.Helper()
	ks := &memKeys{keys: map[string]*store.APIKey{}}
	plain, k, err := NewKey(store.RolePartner, "acme", "test", "")
	require.NoError(t, err)
	require.NoError(t, ks.CreateKey(context.Background(), k))
	return ks, NewAuthenticator(ks), plain, k
}

func requireUnauthenticated(t *testing.T, c *Caller, err error) {
	t.Helper()
	require.Nil(t, c)
	require.True(t, errs.Is(err, errs.KindUnauthenticated), "%v", err)
}

// TestTheSecretDecides: a key's id is public (logs, audit, lists), so a known id with any other
// secret must be refused, before and after the right key was seen and cached.
// Mutations that make it fail: skipping the hash comparison; caching by id alone and trusting it.
func TestTheSecretDecides(t *testing.T) {
	ks, a, plain, k := newKeys(t)
	ctx := context.Background()
	id := plain[:16]
	wrong := id + "_" + strings.Repeat("a", 52)

	c, err := a.ByKey(ctx, wrong)
	requireUnauthenticated(t, c, err)
	c, err = a.ByKey(ctx, plain)
	require.NoError(t, err)
	require.Equal(t, &Caller{KeyID: k.ID, Name: "test", Role: store.RolePartner, Tenant: "acme"}, c)
	c, err = a.ByKey(ctx, wrong)
	requireUnauthenticated(t, c, err) // the id is cached now; the secret still decides
	before := ks.lookups
	_, err = a.ByKey(ctx, plain)
	require.NoError(t, err)
	require.Equal(t, before, ks.lookups, "a live key is served from the cache")

	for _, bad := range []string{"", plain + "a", plain[:len(plain)-1], strings.ToUpper(plain), "Bearer " + plain, id, "hbk__" + plain[17:]} {
		c, err := a.ByKey(ctx, bad)
		requireUnauthenticated(t, c, err)
	}
}

// TestRevokedExpiredAndMisfiledKeys: a revoked key stops once the cache entry ages out, an expired
// one at its time, and a tenant key without a tenant never works.
func TestRevokedExpiredAndMisfiledKeys(t *testing.T) {
	ks, a, plain, k := newKeys(t)
	ctx := context.Background()
	now := time.Now()
	a.now = func() time.Time { return now }
	_, err := a.ByKey(ctx, plain)
	require.NoError(t, err)
	_, err = ks.RevokeKey(ctx, k.ID)
	require.NoError(t, err)
	_, err = a.ByKey(ctx, plain)
	require.NoError(t, err, "within the cache bound the old answer may stand")
	now = now.Add(CacheTTL)
	c, err := a.ByKey(ctx, plain)
	requireUnauthenticated(t, c, err)

	plain2, k2, err := NewKey(store.RoleIntegrator, "acme", "", "")
	require.NoError(t, err)
	k2.ExpiresAt = now.Add(time.Minute)
	require.NoError(t, ks.CreateKey(ctx, k2))
	_, err = a.ByKey(ctx, plain2)
	require.NoError(t, err)
	now = now.Add(time.Minute)
	c, err = a.ByKey(ctx, plain2)
	requireUnauthenticated(t, c, err)

	plain3, k3, err := NewKey(store.RolePartner, "acme", "", "")
	require.NoError(t, err)
	k3.Tenant = "" // as a hand-edited row could be
	require.NoError(t, ks.CreateKey(ctx, k3))
	c, err = a.ByKey(ctx, plain3)
	requireUnauthenticated(t, c, err)
}

func TestScopeFailsClosed(t *testing.T) {
	var none *Caller
	require.Equal(t, noTenant, none.Scope())
	require.Equal(t, noTenant, (&Caller{Role: store.RolePartner}).Scope())
	require.Equal(t, "", (&Caller{Role: store.RolePlatform, Tenant: "acme"}).Scope())
	require.Equal(t, "acme", (&Caller{Role: store.RoleIntegrator, Tenant: "acme"}).Scope())
	require.False(t, store.TenantPattern.MatchString(noTenant), "no tenant can be named like the closed scope")
}

func TestKeyID(t *testing.T) {
	plain, k, err := NewKey(store.RolePlatform, "", "", "")
	require.NoError(t, err)
	for _, in := range []string{k.ID, plain, " " + plain + "\n"} {
		id, ok := KeyID(in)
		require.True(t, ok, in)
		require.Equal(t, k.ID, id)
	}
	for _, in := range []string{"", "hbk_", plain + "x", "hbk_AAAAAAAAAAAA", "connections/x"} {
		_, ok := KeyID(in)
		require.False(t, ok, in)
	}
}
