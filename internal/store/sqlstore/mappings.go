package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/store"
)

type mappingVersionRow struct {
	ID           string `gorm:"primaryKey"`
	Name         string
	Number       int
	Tenant       string
	Source       string
	Checksum     string
	Description  string
	AuthorKeyID  string
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt    time.Time `gorm:"autoUpdateTime:false"`
	DeprecatedAt sql.NullTime
	DeletedAt    sql.NullTime
}

func (mappingVersionRow) TableName() string { return "mapping_versions" }

func (r *mappingVersionRow) toStore() *store.MappingVersion {
	return &store.MappingVersion{
		ID: r.ID, Name: r.Name, Number: r.Number, Tenant: r.Tenant, Source: r.Source, Checksum: r.Checksum,
		Description: r.Description, AuthorKeyID: r.AuthorKeyID, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		DeprecatedAt: fromNullTime(r.DeprecatedAt), DeletedAt: fromNullTime(r.DeletedAt),
	}
}

// MaxMappingVersion implements store.MappingVersionStore.
func (s *Store) MaxMappingVersion(ctx context.Context, name, tenant string) (int, error) {
	q := s.db.WithContext(ctx).Model(&mappingVersionRow{}).Where("name = ?", name)
	if tenant != "" {
		q = q.Where("tenant IN ('', ?)", tenant)
	}
	var highest sql.NullInt64
	if err := q.Select("MAX(number)").Scan(&highest).Error; err != nil {
		return 0, adapt(err, "mapping versions of "+name)
	}
	return int(highest.Int64), nil
}

// PublishMappingVersion implements store.MappingVersionStore.
func (s *Store) PublishMappingVersion(ctx context.Context, v *store.MappingVersion, floor int) error {
	return s.Tx(ctx, func(tx store.Store) error {
		t := tx.(*Store)
		if t.dialect == Postgres {
			// Publishes of one mapping take turns, so that a global and a tenant version cannot
			// both take the same number; SQLite's immediate transactions already take turns.
			if err := t.db.WithContext(ctx).Exec("SELECT pg_advisory_xact_lock(hashtext(?))", "mapping_versions/"+v.Name).Error; err != nil {
				return adapt(err, "mapping versions of "+v.Name)
			}
		}
		highest, err := t.MaxMappingVersion(ctx, v.Name, v.Tenant)
		if err != nil {
			return err
		}
		if next := 1 + max(highest, floor); v.Number != next {
			return &errs.Error{Kind: errs.KindConflict, Message: fmt.Sprintf("version v%d of %s was published meanwhile; the next is v%d", v.Number, v.Name, next)}
		}
		now := t.timestamp()
		v.CreatedAt, v.UpdatedAt = now, now
		row := &mappingVersionRow{
			ID: v.ID, Name: v.Name, Number: v.Number, Tenant: v.Tenant, Source: v.Source, Checksum: v.Checksum,
			Description: v.Description, AuthorKeyID: v.AuthorKeyID, CreatedAt: now, UpdatedAt: now,
		}
		return adapt(t.db.WithContext(ctx).Create(row).Error, fmt.Sprintf("version v%d of %s", v.Number, v.Name))
	})
}

// MappingVersionStamps implements store.MappingVersionStore.
func (s *Store) MappingVersionStamps(ctx context.Context) ([]store.MappingVersionStamp, error) {
	var rows []mappingVersionRow
	if err := s.reads().WithContext(ctx).Select("id", "updated_at").Order("id").Find(&rows).Error; err != nil {
		return nil, adapt(err, "mapping versions")
	}
	out := make([]store.MappingVersionStamp, len(rows))
	for i, r := range rows {
		out[i] = store.MappingVersionStamp{ID: r.ID, UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, nil
}

// GetMappingVersions implements store.MappingVersionStore.
func (s *Store) GetMappingVersions(ctx context.Context, ids []string) ([]*store.MappingVersion, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var rows []mappingVersionRow
	if err := s.reads().WithContext(ctx).Where("id IN ?", ids).Order("id").Find(&rows).Error; err != nil {
		return nil, adapt(err, "mapping versions")
	}
	out := make([]*store.MappingVersion, len(rows))
	for i := range rows {
		out[i] = rows[i].toStore()
	}
	return out, nil
}

// DeprecateMappingVersion implements store.MappingVersionStore.
func (s *Store) DeprecateMappingVersion(ctx context.Context, id string) (*store.MappingVersion, error) {
	return s.markMappingVersion(ctx, id, "deprecated_at")
}

// DeleteMappingVersion implements store.MappingVersionStore.
func (s *Store) DeleteMappingVersion(ctx context.Context, id string) (*store.MappingVersion, error) {
	return s.markMappingVersion(ctx, id, "deleted_at")
}

func (s *Store) markMappingVersion(ctx context.Context, id, column string) (*store.MappingVersion, error) {
	now := sql.NullTime{Time: s.timestamp(), Valid: true}
	res := s.db.WithContext(ctx).Model(&mappingVersionRow{}).Where("id = ? AND "+column+" IS NULL", id).
		Updates(map[string]any{column: now, "updated_at": now})
	if res.Error != nil {
		return nil, adapt(res.Error, "mapping version "+id)
	}
	var row mappingVersionRow
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return nil, adapt(err, "mapping version "+id)
	}
	return row.toStore(), nil
}

// ConnectionsUsingMapping implements store.MappingVersionStore.
func (s *Store) ConnectionsUsingMapping(ctx context.Context, tenant, version string) ([]string, error) {
	q := s.reads().WithContext(ctx).Model(&connectionRow{}).Where("mapping_version = ?", version).Order("id")
	if tenant != "" {
		q = q.Where("tenant = ?", tenant)
	}
	var ids []string
	if err := q.Pluck("id", &ids).Error; err != nil {
		return nil, adapt(err, "connections")
	}
	return ids, nil
}
