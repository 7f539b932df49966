// Package auth knows who calls: API keys and their roles, the tenant each caller is confined to,
// and the one interceptor chain that enforces both for gRPC and, through the gateway, for REST.
// Handlers read the caller from the context; they never check credentials themselves.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"regexp"
	"strings"

	"github.com/handybind/handybind/internal/store"
)

// KeyPrefix starts every API key, so that a leaked key is recognisable by secret scanners.
const KeyPrefix = "hbk_"

// A key is KeyPrefix, a 12-character public id, "_", and a 52-character secret: 60 bits of id
// and 256 bits of secret, in lower-case base32 so that it survives shells, URLs and headers.
var (
	b32        = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	keyPattern = regexp.MustCompile(`^hbk_([a-z2-7]{12})_([a-z2-7]{52})$`)
)

// NewKey makes a random key and returns the plaintext (shown once) and the record to store, whose
// SecretHash is all that remains of the secret.
func NewKey(role store.Role, tenant, name, certCN string) (plaintext string, k *store.APIKey, err error) {
	if err := CheckRole(role, tenant); err != nil {
		return "", nil, err
	}
	raw := make([]byte, 8+32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("making a key: %w", err)
	}
	id := KeyPrefix + b32.EncodeToString(raw[:8])[:12]
	secret := b32.EncodeToString(raw[8:])
	k = &store.APIKey{ID: id, Name: name, Role: role, Tenant: tenant, SecretHash: hashSecret(secret), CertCN: certCN}
	return id + "_" + secret, k, nil
}

// CheckRole says whether a role and tenant go together: platform keys have no tenant, every other
// key has exactly one.
func CheckRole(role store.Role, tenant string) error {
	switch role {
	case store.RolePlatform:
		if tenant != "" {
			return fmt.Errorf("a platform key reaches every tenant; do not name one (got %q)", tenant)
		}
	case store.RolePartner, store.RoleIntegrator:
		if !store.TenantPattern.MatchString(tenant) {
			return fmt.Errorf("a %s key needs a tenant such as acme (lower-case letters, digits, '.', '_' or '-', at most 63), got %q", role, tenant)
		}
	default:
		return fmt.Errorf("role %q is not platform, partner or integrator", role)
	}
	return nil
}

// KeyID returns the id of a key id or of a whole key; ok is false for anything else, which must
// not be stored or echoed (it may be a secret pasted by mistake).
func KeyID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if idPattern.MatchString(s) {
		return s, true
	}
	if id, _, ok := parseKey(s); ok {
		return id, true
	}
	return "", false
}

var idPattern = regexp.MustCompile(`^hbk_[a-z2-7]{12}$`)

// parseKey splits a presented key into its id and the hash of its secret; ok is false for
// anything that is not shaped like a key.
func parseKey(raw string) (id string, secretHash []byte, ok bool) {
	m := keyPattern.FindStringSubmatch(strings.TrimSpace(raw))
	if m == nil {
		return "", nil, false
	}
	return KeyPrefix + m[1], hashSecret(m[2]), true
}

// hashSecret is a plain SHA-256: the secret has 256 bits of entropy, so a slow password hash
// would add cost to every call and nothing against guessing.
func hashSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}
