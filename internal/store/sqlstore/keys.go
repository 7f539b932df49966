package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
)

// CreateKey implements store.KeyStore.
func (s *Store) CreateKey(ctx context.Context, k *store.APIKey) error {
	k.CreatedAt = s.timestamp()
	row := &apiKeyRow{
		ID: k.ID, Name: k.Name, Role: string(k.Role), Tenant: k.Tenant, SecretHash: k.SecretHash, CertCN: k.CertCN,
		CreatedAt: k.CreatedAt, ExpiresAt: nullTime(k.ExpiresAt), RevokedAt: nullTime(k.RevokedAt),
	}
	what := "key " + k.ID
	if k.CertCN != "" {
		what = "key " + k.ID + " or a live key for certificate " + k.CertCN
	}
	return adapt(s.db.WithContext(ctx).Create(row).Error, what)
}

// GetKey implements store.KeyStore.
func (s *Store) GetKey(ctx context.Context, id string) (*store.APIKey, error) {
	var row apiKeyRow
	if err := s.reads().WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return nil, adapt(err, "key "+id)
	}
	return row.toStore(), nil
}

// GetKeyByCertCN implements store.KeyStore.
func (s *Store) GetKeyByCertCN(ctx context.Context, cn string) (*store.APIKey, error) {
	var row apiKeyRow
	err := s.reads().WithContext(ctx).Where("cert_cn = ? AND cert_cn <> '' AND revoked_at IS NULL", cn).Take(&row).Error
	if err != nil {
		return nil, adapt(err, "key for certificate "+cn)
	}
	return row.toStore(), nil
}

// ListKeys implements store.KeyStore.
func (s *Store) ListKeys(ctx context.Context, f store.KeyFilter) ([]*store.APIKey, error) {
	q := s.reads().WithContext(ctx).Order("id ASC").Limit(f.Limit)
	if f.AfterID != "" {
		q = q.Where("id > ?", f.AfterID)
	}
	if !f.IncludeRevoked {
		q = q.Where("revoked_at IS NULL")
	}
	var rows []apiKeyRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, adapt(err, "keys")
	}
	out := make([]*store.APIKey, len(rows))
	for i := range rows {
		out[i] = rows[i].toStore()
	}
	return out, nil
}

// RevokeKey implements store.KeyStore.
func (s *Store) RevokeKey(ctx context.Context, id string) (*store.APIKey, error) {
	now := s.timestamp()
	res := s.db.WithContext(ctx).Model(&apiKeyRow{}).Where("id = ? AND revoked_at IS NULL", id).
		Update("revoked_at", sql.NullTime{Time: now, Valid: true})
	if res.Error != nil {
		return nil, adapt(res.Error, "key "+id)
	}
	return s.GetKey(ctx, id)
}

// AppendAudit implements store.AuditStore.
func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	if e.Time.IsZero() {
		e.Time = s.timestamp()
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	row := &auditEventRow{ID: e.ID, Time: e.Time, KeyID: e.KeyID, Role: string(e.Role), Tenant: e.Tenant,
		Method: e.Method, Resource: e.Resource, Outcome: e.Outcome}
	return adapt(s.db.WithContext(ctx).Create(row).Error, "audit event "+e.ID)
}

// ListAudit implements store.AuditStore.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEvent, error) {
	q := s.reads().WithContext(ctx).Order("id DESC").Limit(f.Limit)
	if f.Tenant != "" {
		q = q.Where("tenant = ?", f.Tenant)
	}
	if f.BeforeID != "" {
		q = q.Where("id < ?", f.BeforeID)
	}
	var rows []auditEventRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, adapt(err, "audit events")
	}
	out := make([]*store.AuditEvent, len(rows))
	for i := range rows {
		out[i] = rows[i].toStore()
		out[i].Time = out[i].Time.UTC()
	}
	return out, nil
}

// SealedToken is one stored token with where it belongs, so that start-up can check that the
// configured encryption key still opens what the database holds.
type SealedToken struct {
	ConnectionID string
	Field        string // "handy.token" or "bind.token"
	Token        secret.Sealed
}

// TokenSamples returns one stored token per encryption key id in use (none when no connection
// holds a token).
func (s *Store) TokenSamples(ctx context.Context) ([]SealedToken, error) {
	var out []SealedToken
	for _, f := range []struct{ field, prefix string }{{"handy.token", "handy_token"}, {"bind.token", "bind_token"}} {
		var ids []string
		err := s.db.WithContext(ctx).Model(&connectionRow{}).Distinct(f.prefix+"_key_id").
			Where(f.prefix+"_key_id <> ''").Pluck(f.prefix+"_key_id", &ids).Error
		if err != nil {
			return nil, adapt(err, "stored tokens")
		}
		for _, keyID := range ids {
			var row connectionRow
			if err := s.db.WithContext(ctx).Where(f.prefix+"_key_id = ?", keyID).Take(&row).Error; err != nil {
				return nil, adapt(err, "stored tokens")
			}
			tok := secret.Sealed{KeyID: row.HandyTokenKeyID, Ciphertext: row.HandyTokenCiphertext}
			if f.field == "bind.token" {
				tok = secret.Sealed{KeyID: row.BindTokenKeyID, Ciphertext: row.BindTokenCiphertext}
			}
			out = append(out, SealedToken{ConnectionID: row.ID, Field: f.field, Token: tok})
		}
	}
	return out, nil
}
