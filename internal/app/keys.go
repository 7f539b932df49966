package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
)

// CLIKeyID is the audit log's name for changes made with the key commands, which an operator runs
// against the database rather than through the API.
const CLIKeyID = "cli"

// KeyAdmin is what an operator does with API keys: create, list, revoke. It works on the
// database directly, so the first key can be made before any caller exists.
type KeyAdmin struct {
	db    *sqlstore.DB
	st    *sqlstore.Store
	log   *slog.Logger
	owned bool // Close closes db
}

// KeyAdmin returns key administration over the server's own database (the demo and tests mint
// their keys with it).
func (s *Server) KeyAdmin() *KeyAdmin { return &KeyAdmin{db: s.db, st: sqlstore.New(s.db), log: s.log} }

// OpenKeyAdmin opens the configured database, which must be migrated.
func OpenKeyAdmin(ctx context.Context, cfg Config, log *slog.Logger) (*KeyAdmin, error) {
	db, err := sqlstore.Open(ctx, cfg.Database(), log)
	if err != nil {
		return nil, err
	}
	if err := checkSchema(ctx, db, cfg.Migrate, log); err != nil {
		db.Close()
		return nil, err
	}
	return &KeyAdmin{db: db, st: sqlstore.New(db), log: log, owned: true}, nil
}

// Close releases the database it opened.
func (k *KeyAdmin) Close() {
	if k.owned {
		k.db.Close()
	}
}

// NewKeyRequest describes a key to create.
type NewKeyRequest struct {
	Role   store.Role
	Tenant string
	Name   string
	CertCN string
	// ExpiresAt is zero for a key that does not expire.
	ExpiresAt time.Time
}

// Create makes a key and returns its plaintext, which exists nowhere else afterwards.
func (k *KeyAdmin) Create(ctx context.Context, req NewKeyRequest) (string, *store.APIKey, error) {
	if !req.ExpiresAt.IsZero() && !req.ExpiresAt.After(time.Now()) {
		return "", nil, errs.InvalidField("expires", "%s is in the past", req.ExpiresAt.Format(time.RFC3339))
	}
	for field, v := range map[string]string{"name": req.Name, "cert-cn": req.CertCN} {
		if len(v) > 200 || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return "", nil, errs.InvalidField(field, "must be at most 200 characters of text, without control characters")
		}
	}
	plain, key, err := auth.NewKey(req.Role, req.Tenant, req.Name, req.CertCN)
	if err != nil {
		return "", nil, errs.InvalidField("role", "%v", err)
	}
	key.ExpiresAt = req.ExpiresAt.UTC().Truncate(time.Microsecond)
	err = k.st.CreateKey(ctx, key)
	k.audit(ctx, "keys create", key, err)
	if err != nil {
		return "", nil, err
	}
	return plain, key, nil
}

// List returns every key, revoked ones too when all is set, in id order.
func (k *KeyAdmin) List(ctx context.Context, all bool) ([]*store.APIKey, error) {
	var out []*store.APIKey
	after := ""
	for {
		page, err := k.st.ListKeys(ctx, store.KeyFilter{AfterID: after, Limit: 500, IncludeRevoked: all})
		if err != nil {
			return nil, err
		}
		out = append(out, page...)
		if len(page) < 500 {
			return out, nil
		}
		after = page[len(page)-1].ID
	}
}

// Revoke stops a key; every replica refuses it within auth.CacheTTL.
func (k *KeyAdmin) Revoke(ctx context.Context, idOrKey string) (*store.APIKey, error) {
	id, ok := auth.KeyID(idOrKey)
	if !ok {
		return nil, errs.InvalidField("id", "is not a key id (hbk_ and 12 letters or digits, as keys list shows it)")
	}
	key, err := k.st.RevokeKey(ctx, id)
	logged := key
	if logged == nil {
		logged = &store.APIKey{ID: id}
	}
	k.audit(ctx, "keys revoke", logged, err)
	return key, err
}

func (k *KeyAdmin) audit(ctx context.Context, command string, key *store.APIKey, err error) {
	outcome := "OK"
	if err != nil {
		outcome = strings.ToUpper(strings.ReplaceAll(fmt.Sprint(errs.KindOf(err)), " ", "_"))
	}
	id, aerr := uuid.NewV7()
	if aerr == nil {
		aerr = k.st.AppendAudit(ctx, &store.AuditEvent{ID: id.String(), KeyID: CLIKeyID, Tenant: key.Tenant,
			Method: "handybind " + command, Resource: "keys/" + key.ID, Outcome: outcome})
	}
	// The change stands either way (a created key must still be shown once); a lost record is for
	// the operator to see.
	if aerr != nil {
		k.log.ErrorContext(ctx, "audit event not recorded", "command", command, "key_id", key.ID, "error", aerr)
	}
}
