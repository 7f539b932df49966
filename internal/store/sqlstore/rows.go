package sqlstore

import (
	"database/sql"
	"time"

	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
)

// The row types mirror the tables in migrations/; they stay in this package so that nothing above
// storage depends on GORM's tags or on how a column is spelled.

type connectionRow struct {
	ID                   string `gorm:"primaryKey"`
	Tenant               string
	DisplayName          string
	State                string
	StateReason          string
	HandyBaseURL         string `gorm:"column:handy_base_url"`
	HandyTokenKeyID      string
	HandyTokenCiphertext []byte
	BindBaseURL          string `gorm:"column:bind_base_url"`
	BindUserName         string
	BindTokenKeyID       string
	BindTokenCiphertext  []byte
	PriceList            string
	Currency             string
	Warehouse            string
	LedgerAccount        string
	TimeZone             string
	MappingVersion       string
	PriceListID          string
	CurrencyID           string
	WarehouseID          string
	LocationID           string
	AccountID            string
	UserID               string
	ResolvedAt           sql.NullTime
	CreatedAt            time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt            time.Time `gorm:"autoUpdateTime:false"`
}

func (connectionRow) TableName() string { return "connections" }

// connectionColumns are the columns of connectionRow in the order fields gives them.
const connectionColumns = "id, tenant, display_name, state, state_reason, handy_base_url, handy_token_key_id, handy_token_ciphertext, " +
	"bind_base_url, bind_user_name, bind_token_key_id, bind_token_ciphertext, price_list, currency, warehouse, ledger_account, " +
	"time_zone, mapping_version, price_list_id, currency_id, warehouse_id, location_id, account_id, user_id, resolved_at, created_at, updated_at"

// fields are the destinations of a row read with connectionColumns.
func (r *connectionRow) fields() []any {
	return []any{&r.ID, &r.Tenant, &r.DisplayName, &r.State, &r.StateReason, &r.HandyBaseURL, &r.HandyTokenKeyID, &r.HandyTokenCiphertext,
		&r.BindBaseURL, &r.BindUserName, &r.BindTokenKeyID, &r.BindTokenCiphertext, &r.PriceList, &r.Currency, &r.Warehouse, &r.LedgerAccount,
		&r.TimeZone, &r.MappingVersion, &r.PriceListID, &r.CurrencyID, &r.WarehouseID, &r.LocationID, &r.AccountID, &r.UserID, &r.ResolvedAt, &r.CreatedAt, &r.UpdatedAt}
}

func toConnectionRow(c *store.Connection) *connectionRow {
	return &connectionRow{
		ID:                   c.ID,
		Tenant:               c.Tenant,
		DisplayName:          c.DisplayName,
		State:                string(c.State),
		StateReason:          c.StateReason,
		HandyBaseURL:         c.HandyBaseURL,
		HandyTokenKeyID:      c.HandyToken.KeyID,
		HandyTokenCiphertext: c.HandyToken.Ciphertext,
		BindBaseURL:          c.BindBaseURL,
		BindUserName:         c.BindUserName,
		BindTokenKeyID:       c.BindToken.KeyID,
		BindTokenCiphertext:  c.BindToken.Ciphertext,
		PriceList:            c.Settings.PriceList,
		Currency:             c.Settings.Currency,
		Warehouse:            c.Settings.Warehouse,
		LedgerAccount:        c.Settings.LedgerAccount,
		TimeZone:             c.Settings.TimeZone,
		MappingVersion:       c.MappingVersion,
		PriceListID:          c.Resolved.PriceListID,
		CurrencyID:           c.Resolved.CurrencyID,
		WarehouseID:          c.Resolved.WarehouseID,
		LocationID:           c.Resolved.LocationID,
		AccountID:            c.Resolved.AccountID,
		UserID:               c.Resolved.UserID,
		ResolvedAt:           nullTime(c.Resolved.ResolvedAt),
		CreatedAt:            c.CreatedAt,
		UpdatedAt:            c.UpdatedAt,
	}
}

func (r *connectionRow) toStore() *store.Connection {
	return &store.Connection{
		ID:           r.ID,
		Tenant:       r.Tenant,
		DisplayName:  r.DisplayName,
		State:        store.ConnectionState(r.State),
		StateReason:  r.StateReason,
		HandyBaseURL: r.HandyBaseURL,
		HandyToken:   secret.Sealed{KeyID: r.HandyTokenKeyID, Ciphertext: r.HandyTokenCiphertext},
		BindBaseURL:  r.BindBaseURL,
		BindUserName: r.BindUserName,
		BindToken:    secret.Sealed{KeyID: r.BindTokenKeyID, Ciphertext: r.BindTokenCiphertext},
		Settings: store.Settings{
			PriceList:     r.PriceList,
			Currency:      r.Currency,
			Warehouse:     r.Warehouse,
			LedgerAccount: r.LedgerAccount,
			TimeZone:      r.TimeZone,
		},
		MappingVersion: r.MappingVersion,
		Resolved: store.ResolvedIDs{
			PriceListID: r.PriceListID,
			CurrencyID:  r.CurrencyID,
			WarehouseID: r.WarehouseID,
			LocationID:  r.LocationID,
			AccountID:   r.AccountID,
			UserID:      r.UserID,
			ResolvedAt:  fromNullTime(r.ResolvedAt),
		},
		CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type runRow struct {
	ID              string `gorm:"primaryKey"`
	ConnectionID    string
	Kind            string
	Trigger         string
	State           string
	MappingVersion  string
	MappingChecksum string
	WindowStart     sql.NullTime
	WindowEnd       sql.NullTime
	CreatedCount    int
	UpdatedCount    int
	UnchangedCount  int
	DeletedCount    int
	SkippedCount    int
	FailedCount     int
	WaitingCount    int
	Error           string
	CreatedAt       time.Time `gorm:"autoCreateTime:false"`
	StartedAt       sql.NullTime
	FinishedAt      sql.NullTime
	LeaseOwner      string
	LeaseExpiresAt  sql.NullTime
	Processed       int
	Total           sql.NullInt64
}

func (runRow) TableName() string { return "runs" }

func toRunRow(r *store.Run) *runRow {
	return &runRow{
		ID:              r.ID,
		ConnectionID:    r.ConnectionID,
		Kind:            string(r.Kind),
		Trigger:         string(r.Trigger),
		State:           string(r.State),
		MappingVersion:  r.MappingVersion,
		MappingChecksum: r.MappingChecksum,
		WindowStart:     nullTime(r.WindowStart),
		WindowEnd:       nullTime(r.WindowEnd),
		CreatedCount:    r.Counts.Created,
		UpdatedCount:    r.Counts.Updated,
		UnchangedCount:  r.Counts.Unchanged,
		DeletedCount:    r.Counts.Deleted,
		SkippedCount:    r.Counts.Skipped,
		FailedCount:     r.Counts.Failed,
		WaitingCount:    r.Counts.Waiting,
		Error:           r.Error,
		CreatedAt:       r.CreatedAt,
		StartedAt:       nullTime(r.StartedAt),
		FinishedAt:      nullTime(r.FinishedAt),
		LeaseOwner:      r.LeaseOwner,
		LeaseExpiresAt:  nullTime(r.LeaseExpiresAt),
		Processed:       r.Processed,
		Total:           sql.NullInt64{Int64: int64(r.Total), Valid: r.Total >= 0},
	}
}

func (r *runRow) toStore() *store.Run {
	return &store.Run{
		ID:              r.ID,
		ConnectionID:    r.ConnectionID,
		Kind:            store.SyncKind(r.Kind),
		Trigger:         store.RunTrigger(r.Trigger),
		State:           store.RunState(r.State),
		MappingVersion:  r.MappingVersion,
		MappingChecksum: r.MappingChecksum,
		WindowStart:     fromNullTime(r.WindowStart),
		WindowEnd:       fromNullTime(r.WindowEnd),
		Counts: store.Counts{
			Created:   r.CreatedCount,
			Updated:   r.UpdatedCount,
			Unchanged: r.UnchangedCount,
			Deleted:   r.DeletedCount,
			Skipped:   r.SkippedCount,
			Failed:    r.FailedCount,
			Waiting:   r.WaitingCount,
		},
		Error:          r.Error,
		CreatedAt:      r.CreatedAt.UTC(),
		StartedAt:      fromNullTime(r.StartedAt),
		FinishedAt:     fromNullTime(r.FinishedAt),
		LeaseOwner:     r.LeaseOwner,
		LeaseExpiresAt: fromNullTime(r.LeaseExpiresAt),
		Processed:      r.Processed,
		Total:          total(r.Total),
	}
}

type runItemRow struct {
	ID             string `gorm:"primaryKey"`
	RunID          string
	Entity         string
	HandyID        string
	BindID         string
	Outcome        string
	Reason         string
	PayloadDigest  string
	MappingVersion string
	CreatedAt      time.Time `gorm:"autoCreateTime:false"`
}

func (runItemRow) TableName() string { return "run_items" }

func toRunItemRow(i *store.RunItem) *runItemRow {
	return &runItemRow{
		ID:             i.ID,
		RunID:          i.RunID,
		Entity:         string(i.Entity),
		HandyID:        i.HandyID,
		BindID:         i.BindID,
		Outcome:        string(i.Outcome),
		Reason:         i.Reason,
		PayloadDigest:  i.PayloadDigest,
		MappingVersion: i.MappingVersion,
		CreatedAt:      i.CreatedAt,
	}
}

func (r *runItemRow) toStore() *store.RunItem {
	return &store.RunItem{
		ID:             r.ID,
		RunID:          r.RunID,
		Entity:         store.Entity(r.Entity),
		HandyID:        r.HandyID,
		BindID:         r.BindID,
		Outcome:        store.Outcome(r.Outcome),
		Reason:         r.Reason,
		PayloadDigest:  r.PayloadDigest,
		MappingVersion: r.MappingVersion,
		CreatedAt:      r.CreatedAt.UTC(),
	}
}

type linkRow struct {
	ConnectionID   string `gorm:"primaryKey"`
	Entity         string `gorm:"primaryKey"`
	HandyID        string `gorm:"primaryKey"`
	BindID         string
	BindExtra      string
	State          string
	PayloadDigest  string
	MappingVersion string
	CreatedAt      time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt      time.Time `gorm:"autoUpdateTime:false"`
}

func (linkRow) TableName() string { return "links" }

func (r *linkRow) toStore() *store.Link {
	return &store.Link{
		ConnectionID:   r.ConnectionID,
		Entity:         store.Entity(r.Entity),
		HandyID:        r.HandyID,
		BindID:         r.BindID,
		BindExtra:      r.BindExtra,
		State:          store.LinkState(r.State),
		PayloadDigest:  r.PayloadDigest,
		MappingVersion: r.MappingVersion,
		CreatedAt:      r.CreatedAt.UTC(),
		UpdatedAt:      r.UpdatedAt.UTC(),
	}
}

func nullTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

func fromNullTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

type cursorRow struct {
	ConnectionID string `gorm:"primaryKey"`
	Kind         string `gorm:"primaryKey"`
	Position     time.Time
	UpdatedAt    time.Time `gorm:"autoUpdateTime:false"`
}

func (cursorRow) TableName() string { return "sync_cursors" }

type consoleSessionRow struct {
	ID        string `gorm:"primaryKey"`
	ExpiresAt time.Time
}

func (consoleSessionRow) TableName() string { return "console_sessions" }

type syncHealthRow struct {
	ConnectionID  string `gorm:"primaryKey"`
	Kind          string `gorm:"primaryKey"`
	LastSuccessAt sql.NullTime
	LastFailureAt sql.NullTime
	LastError     string
}

func (syncHealthRow) TableName() string { return "sync_health" }

type pendingSaleRow struct {
	ConnectionID string `gorm:"primaryKey"`
	HandyID      string `gorm:"primaryKey"`
	Reason       string
	Attempts     int
	CreatedAt    time.Time `gorm:"autoCreateTime:false"`
	UpdatedAt    time.Time `gorm:"autoUpdateTime:false"`
}

func (pendingSaleRow) TableName() string { return "pending_sales" }

type apiKeyRow struct {
	ID         string `gorm:"primaryKey"`
	Name       string
	Role       string
	Tenant     string
	SecretHash []byte
	CertCN     string    `gorm:"column:cert_cn"`
	CreatedAt  time.Time `gorm:"autoCreateTime:false"`
	ExpiresAt  sql.NullTime
	RevokedAt  sql.NullTime
}

func (apiKeyRow) TableName() string { return "api_keys" }

func (r *apiKeyRow) toStore() *store.APIKey {
	return &store.APIKey{
		ID: r.ID, Name: r.Name, Role: store.Role(r.Role), Tenant: r.Tenant, SecretHash: r.SecretHash, CertCN: r.CertCN,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: fromNullTime(r.ExpiresAt), RevokedAt: fromNullTime(r.RevokedAt),
	}
}

type auditEventRow struct {
	ID       string `gorm:"primaryKey"`
	Time     time.Time
	KeyID    string
	Role     string
	Tenant   string
	Method   string
	Resource string
	Outcome  string
}

func (auditEventRow) TableName() string { return "audit_events" }

func (r *auditEventRow) toStore() *store.AuditEvent {
	return &store.AuditEvent{ID: r.ID, Time: r.Time, KeyID: r.KeyID, Role: store.Role(r.Role), Tenant: r.Tenant,
		Method: r.Method, Resource: r.Resource, Outcome: r.Outcome}
}

func total(n sql.NullInt64) int {
	if !n.Valid {
		return -1
	}
	return int(n.Int64)
}
