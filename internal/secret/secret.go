// Package secret seals credentials (Handy and Bind tokens) for storage with AES-256-GCM.
//
// A Keyring holds one primary key, used to seal, and any number of older keys, used only to open,
// so keys can be rotated: add a new primary, re-seal, then drop the old key. Every sealed value
// records the id of the key that sealed it. The associated data binds a ciphertext to the record and
// field it belongs to, so a ciphertext copied into another row does not open.
package secret

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// KeySize is the length of an AES-256 key in bytes.
const KeySize = 32

// Sealed is an encrypted value and the id of the key that sealed it.
type Sealed struct {
	KeyID      string
	Ciphertext []byte // nonce followed by the GCM output
}

// IsZero reports whether nothing was sealed.
func (s Sealed) IsZero() bool { return len(s.Ciphertext) == 0 }

// Key is one named AES-256 key.
type Key struct {
	ID    string
	Bytes []byte
}

// Keyring seals with its primary key and opens with any key it holds.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
	derive  []byte // the primary key, for Derive
}

var keyIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// NewKeyring builds a keyring whose first key is the primary.
func NewKeyring(keys ...Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, errors.New("secret: at least one key is needed")
	}
	kr := &Keyring{primary: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys)), derive: bytes.Clone(keys[0].Bytes)}
	for i, k := range keys {
		if !keyIDPattern.MatchString(k.ID) {
			return nil, fmt.Errorf("secret: key %d: id %q must be 1-64 letters, digits, '.', '_' or '-'", i+1, k.ID)
		}
		if len(k.Bytes) != KeySize {
			return nil, fmt.Errorf("secret: key %q: must be %d bytes, got %d", k.ID, KeySize, len(k.Bytes))
		}
		if _, dup := kr.aeads[k.ID]; dup {
			return nil, fmt.Errorf("secret: key id %q appears twice", k.ID)
		}
		block, err := aes.NewCipher(k.Bytes)
		if err != nil {
			return nil, fmt.Errorf("secret: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret: key %q: %w", k.ID, err)
		}
		kr.aeads[k.ID] = aead
	}
	return kr, nil
}

// PrimaryID is the id of the key that seals new values.
func (kr *Keyring) PrimaryID() string { return kr.primary }

// Derive returns a 32-byte key for purpose, derived from the primary key with HKDF-SHA256: another
// use of the secret gets its own key, never the sealing key itself. Replicas with the same primary
// key derive the same key; a new primary key derives a new one.
func (kr *Keyring) Derive(purpose string) []byte {
	k, err := hkdf.Key(sha256.New, kr.derive, nil, "handybind derived key: "+purpose, KeySize)
	if err != nil {
		panic("secret: " + err.Error()) // only for a length HKDF cannot give; KeySize is not one
	}
	return k
}

// Seal encrypts plaintext with the primary key. aad names where the value belongs (for example
// "connection/<id>/handy_token") and must be given again to Open. An empty plaintext seals to the
// zero Sealed, meaning "no secret stored".
func (kr *Keyring) Seal(plaintext, aad string) (Sealed, error) {
	if plaintext == "" {
		return Sealed{}, nil
	}
	aead := kr.aeads[kr.primary]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("secret: reading random nonce: %w", err)
	}
	return Sealed{KeyID: kr.primary, Ciphertext: aead.Seal(nonce, nonce, []byte(plaintext), []byte(aad))}, nil
}

// Open decrypts a sealed value. It fails when the key is unknown, or the value was tampered with
// or sealed for a different aad. The error never contains the plaintext.
func (kr *Keyring) Open(s Sealed, aad string) (string, error) {
	if s.IsZero() {
		return "", nil
	}
	aead, ok := kr.aeads[s.KeyID]
	if !ok {
		return "", fmt.Errorf("secret: value was sealed with key %q, which is not configured", s.KeyID)
	}
	if len(s.Ciphertext) < aead.NonceSize()+aead.Overhead() {
		return "", errors.New("secret: sealed value is too short")
	}
	nonce, body := s.Ciphertext[:aead.NonceSize()], s.Ciphertext[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, body, []byte(aad))
	if err != nil {
		return "", fmt.Errorf("secret: cannot open value sealed with key %q: it was altered or belongs elsewhere", s.KeyID)
	}
	return string(plain), nil
}

// ParseKeys reads keys in the key-file format: one key a line, "<id> <base64 of 32 bytes>"; the
// first line is the primary; blank lines and lines starting with '#' are ignored.
func ParseKeys(data []byte) ([]Key, error) {
	var keys []Key
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"<key id> <base64 key>\"", n)
		}
		raw, err := base64.StdEncoding.DecodeString(fields[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: key %q is not valid base64", n, fields[0])
		}
		keys = append(keys, Key{ID: fields[0], Bytes: raw})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no keys found")
	}
	return keys, nil
}

// LoadKeyFile reads a key file. With create set, a missing file is created with one new random key,
// readable by its owner only. A file that others can read is refused.
func LoadKeyFile(path string, create bool) (*Keyring, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		data, err = createKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("secret key file %s: permissions %v let others read it; run chmod 600 %s", path, info.Mode().Perm(), path)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	kr, err := NewKeyring(keys...)
	if err != nil {
		return nil, fmt.Errorf("secret key file %s: %w", path, err)
	}
	return kr, nil
}

func createKeyFile(path string) ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	content := []byte("# handybind token encryption keys: \"<key id> <base64 key>\", primary first.\n" +
		"k1 " + base64.StdEncoding.EncodeToString(key) + "\n")
	// O_EXCL: two processes starting at once must not each write a different key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return nil, err
	}
	return content, f.Close()
}
