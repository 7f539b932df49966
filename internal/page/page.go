// Package page encodes the opaque page tokens of list calls. A token carries the position after
// which the next page starts and a digest of the filters it was made for, so a token cannot be
// replayed with different filters and silently skip or repeat records.
package page

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"

	"github.com/google/uuid"

	"github.com/handybind/handybind/internal/errs"
)

type token struct {
	After  string `json:"a"`
	Filter string `json:"f"`
}

// Size returns the page size to use: def for 0, the requested size otherwise. Callers validate
// the upper bound at the edge.
func Size(requested int32, def int) int {
	if requested <= 0 {
		return def
	}
	return int(requested)
}

func digest(filter string) string {
	sum := sha256.Sum256([]byte(filter))
	return hex.EncodeToString(sum[:8])
}

// Encode makes the token for the page after position after, under filter.
func Encode(after, filter string) string {
	b, _ := json.Marshal(token{After: after, Filter: digest(filter)})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns the position in a token, or "" for an empty token. field names the request field
// in errors.
func Decode(tok, filter, field string) (string, error) {
	if tok == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	var t token
	if err == nil {
		err = json.Unmarshal(raw, &t)
	}
	// Every list pages by a UUID; anything else was not made here, and must not reach storage.
	if _, uerr := uuid.Parse(t.After); err != nil || uerr != nil {
		return "", errs.InvalidField(field, "is not a token returned by this API; start again without it")
	}
	if t.Filter != digest(filter) {
		return "", errs.InvalidField(field, "was made for different filters; send the same filters as the first page, or start again without it")
	}
	return t.After, nil
}
