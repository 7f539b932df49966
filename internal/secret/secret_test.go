package secret

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func testKey(id string, b byte) Key { return Key{ID: id, Bytes: bytes.Repeat([]byte{b}, KeySize)} }

func TestSealOpenRoundTrip(t *testing.T) {
	t.Parallel()
	kr, err := NewKeyring(testKey("k1", 1))
	require.NoError(t, err)

	s, err := kr.Seal("tok-123", "connection/a/handy_token")
	require.NoError(t, err)
	require.Equal(t, "k1", s.KeyID)
	require.NotContains(t, string(s.Ciphertext), "tok-123")

	got, err := kr.Open(s, "connection/a/handy_token")
	require.NoError(t, err)
	require.Equal(t, "tok-123", got)

	again, err := kr.Seal("tok-123", "connection/a/handy_token")
	require.NoError(t, err)
	require.NotEqual(t, s.Ciphertext, again.Ciphertext, "each seal uses a fresh nonce")
}

func TestOpenRefusesOtherRecordAndTampering(t *testing.T) {
	t.Parallel()
	kr, err := NewKeyring(testKey("k1", 1))
	require.NoError(t, err)
	s, err := kr.Seal("tok-123", "connection/a/handy_token")
	require.NoError(t, err)

	_, err = kr.Open(s, "connection/b/handy_token")
	require.ErrorContains(t, err, "altered or belongs elsewhere")

	s.Ciphertext[len(s.Ciphertext)-1] ^= 1
	_, err = kr.Open(s, "connection/a/handy_token")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "tok-123")
}

func TestRotationOpensOldValues(t *testing.T) {
	t.Parallel()
	old, err := NewKeyring(testKey("k1", 1))
	require.NoError(t, err)
	s, err := old.Seal("tok", "x")
	require.NoError(t, err)

	rotated, err := NewKeyring(testKey("k2", 2), testKey("k1", 1))
	require.NoError(t, err)
	got, err := rotated.Open(s, "x")
	require.NoError(t, err)
	require.Equal(t, "tok", got)
	s2, err := rotated.Seal("tok", "x")
	require.NoError(t, err)
	require.Equal(t, "k2", s2.KeyID)

	onlyNew, err := NewKeyring(testKey("k2", 2))
	require.NoError(t, err)
	_, err = onlyNew.Open(s, "x")
	require.ErrorContains(t, err, `key "k1", which is not configured`)
}

func TestEmptySealsToZero(t *testing.T) {
	t.Parallel()
	kr, err := NewKeyring(testKey("k1", 1))
	require.NoError(t, err)
	s, err := kr.Seal("", "x")
	require.NoError(t, err)
	require.True(t, s.IsZero())
	got, err := kr.Open(s, "x")
	require.NoError(t, err)
	require.Empty(t, got)
}

func TestNewKeyringRejectsBadKeys(t *testing.T) {
	t.Parallel()
	for name, keys := range map[string][]Key{
		"none":      nil,
		"short key": {{ID: "k1", Bytes: []byte("short")}},
		"bad id":    {{ID: "has space", Bytes: make([]byte, KeySize)}},
		"duplicate": {testKey("k1", 1), testKey("k1", 2)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewKeyring(keys...)
			require.Error(t, err)
		})
	}
}

func TestLoadKeyFileCreatesOwnerOnlyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "secret.key")
	kr, err := LoadKeyFile(path, true)
	require.NoError(t, err)
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	// A second start reads the same key back.
	s, err := kr.Seal("tok", "x")
	require.NoError(t, err)
	kr2, err := LoadKeyFile(path, true)
	require.NoError(t, err)
	got, err := kr2.Open(s, "x")
	require.NoError(t, err)
	require.Equal(t, "tok", got)
}

func TestLoadKeyFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := LoadKeyFile(filepath.Join(dir, "missing.key"), false)
	require.ErrorContains(t, err, "missing.key")

	readable := filepath.Join(dir, "readable.key")
	line := "k1 " + base64.StdEncoding.EncodeToString(make([]byte, KeySize)) + "\n"
	require.NoError(t, os.WriteFile(readable, []byte(line), 0o644))
	_, err = LoadKeyFile(readable, false)
	require.ErrorContains(t, err, "chmod 600")

	garbled := filepath.Join(dir, "garbled.key")
	require.NoError(t, os.WriteFile(garbled, []byte("# comment\nk1 not-base64!\n"), 0o600))
	_, err = LoadKeyFile(garbled, false)
	require.ErrorContains(t, err, "line 2")
	require.False(t, strings.Contains(err.Error(), "not-base64!"), "key material is never echoed")
}

// TestDerive: a derived key is the primary key's HMAC of the purpose, never the key itself; the
// same primary key derives the same key on every replica, and another purpose or primary key
// another one.
func TestDerive(t *testing.T) {
	t.Parallel()
	kr, err := NewKeyring(testKey("k1", 1), testKey("k0", 0))
	require.NoError(t, err)
	same, err := NewKeyring(testKey("k1", 1))
	require.NoError(t, err)
	rotated, err := NewKeyring(testKey("k2", 2), testKey("k1", 1))
	require.NoError(t, err)

	d := kr.Derive("handy request budgets")
	require.Len(t, d, 32)
	require.NotEqual(t, testKey("k1", 1).Bytes, d)
	require.Equal(t, d, same.Derive("handy request budgets"))
	require.NotEqual(t, d, kr.Derive("something else"))
	require.NotEqual(t, d, rotated.Derive("handy request budgets"))
}
