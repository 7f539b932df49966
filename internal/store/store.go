// Package store defines what handybind keeps: connections, runs with their items, and the links
// from Handy ids to Bind ids. The interfaces are narrow and split by aggregate; sqlstore implements
// them on PostgreSQL and SQLite, and storetest holds the conformance suite both must pass.
//
// Errors: a missing record is an errs.KindNotFound error, a duplicate key an errs.KindConflict
// error; every other driver error is wrapped and returned as is.
package store

import (
	"context"
	"regexp"
	"time"

	"github.com/handybind/handybind/internal/secret"
)

// Store is the whole storage. Methods called on it run in their own transaction each; Tx runs
// several atomically.
type Store interface {
	ConnectionStore
	RunStore
	LinkStore
	SyncStateStore
	KeyStore
	AuditStore
	MappingVersionStore

	// Tx runs fn in one transaction: it commits when fn returns nil and rolls back otherwise.
	// Inside fn use only tx: on SQLite the single connection is held by the transaction.
	Tx(ctx context.Context, fn func(tx Store) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}

// ConnectionState is the life-cycle state of a connection.
type ConnectionState string

// The connection states.
const (
	ConnectionDraft  ConnectionState = "draft"
	ConnectionActive ConnectionState = "active"
	ConnectionPaused ConnectionState = "paused"
	ConnectionError  ConnectionState = "error"
)

// Connection links one Handy account to one Bind ERP company. Tokens are only ever held sealed.
type Connection struct {
	ID string
	// Tenant is the Handy company the connection belongs to; set at creation, never changed.
	Tenant      string
	DisplayName string
	State       ConnectionState
	StateReason string

	HandyBaseURL string
	HandyToken   secret.Sealed
	BindBaseURL  string
	BindUserName string
	BindToken    secret.Sealed

	Settings       Settings
	MappingVersion string
	Resolved       ResolvedIDs

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Settings are the Bind names chosen for a connection.
type Settings struct {
	PriceList     string
	Currency      string
	Warehouse     string
	LedgerAccount string
	TimeZone      string
}

// ResolvedIDs are the Bind ids the settings resolved to at activation; ResolvedAt is zero before.
type ResolvedIDs struct {
	PriceListID string
	CurrencyID  string
	WarehouseID string
	LocationID  string
	AccountID   string
	UserID      string
	ResolvedAt  time.Time
}

// ConnectionFilter selects a page of connections.
type ConnectionFilter struct {
	Tenant  string          // empty: every tenant
	State   ConnectionState // empty: any
	AfterID string          // only ids greater than this (paging)
	Limit   int
}

// ConnectionStore keeps connections.
type ConnectionStore interface {
	// CreateConnection inserts c; c.ID must be set. CreatedAt and UpdatedAt are set by the store.
	// An existing id is a conflict.
	CreateConnection(ctx context.Context, c *Connection) error
	// GetConnection returns the connection or a not-found error.
	GetConnection(ctx context.Context, id string) (*Connection, error)
	// ListConnections returns up to f.Limit connections in ascending id order (ids are time-ordered,
	// so this is creation order).
	ListConnections(ctx context.Context, f ConnectionFilter) ([]*Connection, error)
	// UpdateConnection reads the connection, lets fn change it and writes it back, atomically;
	// an error from fn aborts without writing. It returns the stored result.
	UpdateConnection(ctx context.Context, id string, fn func(c *Connection) error) (*Connection, error)
	// LockConnection holds the connection's row, inside Tx, until the transaction ends, without
	// writing it; a missing one is not-found.
	LockConnection(ctx context.Context, id string) error
	// DeleteConnection removes the connection with its runs, items and links; a missing one is not-found.
	DeleteConnection(ctx context.Context, id string) error
}

// SyncKind is what a run synchronises.
type SyncKind string

// The sync kinds.
const (
	SyncProducts     SyncKind = "products"
	SyncSales        SyncKind = "sales"
	SyncDeletedSales SyncKind = "deleted_sales"
)

// RunTrigger is what started a run.
type RunTrigger string

// The run triggers.
const (
	TriggerSchedule   RunTrigger = "schedule"
	TriggerManual     RunTrigger = "manual"
	TriggerActivation RunTrigger = "activation"
)

// RunState is where a run is in its life.
type RunState string

// The run states.
const (
	RunQueued    RunState = "queued"
	RunRunning   RunState = "running"
	RunSucceeded RunState = "succeeded"
	RunPartial   RunState = "partial"
	RunFailed    RunState = "failed"
	// RunAbandoned: the process running it stopped (a crash, a kill) and its lease ran out.
	RunAbandoned RunState = "abandoned"
	// RunInterrupted: the service was stopped on purpose; the next run resumes from the cursor.
	RunInterrupted RunState = "interrupted"
)

// Counts count a run's items by outcome.
type Counts struct {
	Created, Updated, Unchanged, Deleted, Skipped, Failed, Waiting int
}

// Run is one execution of one kind of sync for one connection.
type Run struct {
	ID              string
	ConnectionID    string
	Kind            SyncKind
	Trigger         RunTrigger
	State           RunState
	MappingVersion  string
	MappingChecksum string
	WindowStart     time.Time // zero when the kind reads no window
	WindowEnd       time.Time
	Counts          Counts
	Error           string
	CreatedAt       time.Time
	StartedAt       time.Time // zero until it starts
	FinishedAt      time.Time // zero until it ends
	// LeaseOwner is the process running it and LeaseExpiresAt when it stops counting as alive
	// unless renewed; both are set only while it runs.
	LeaseOwner     string
	LeaseExpiresAt time.Time
	// Processed counts the records handled so far; Total how many there are, -1 when unknown.
	Processed int
	Total     int
}

// Entity is the kind of record a run item or link is about.
type Entity string

// The entities.
const (
	EntityProduct  Entity = "product"
	EntityCustomer Entity = "customer"
	EntitySale     Entity = "sale"
)

// Outcome is what a run did with one record.
type Outcome string

// The outcomes.
const (
	OutcomeCreated   Outcome = "created"
	OutcomeUpdated   Outcome = "updated"
	OutcomeUnchanged Outcome = "unchanged"
	OutcomeDeleted   Outcome = "deleted"
	OutcomeSkipped   Outcome = "skipped"
	OutcomeFailed    Outcome = "failed"
	// OutcomeWaiting: a sale that cannot be sent yet; later runs try it again.
	OutcomeWaiting Outcome = "waiting"
)

// RunItem is one record a run touched.
type RunItem struct {
	ID             string
	RunID          string
	Entity         Entity
	HandyID        string
	BindID         string
	Outcome        Outcome
	Reason         string
	PayloadDigest  string
	MappingVersion string
	CreatedAt      time.Time
}

// RunFilter selects a page of runs.
type RunFilter struct {
	ConnectionID string // empty: every connection
	Kind         SyncKind
	State        RunState
	BeforeID     string // only ids less than this (paging, newest first)
	Limit        int
}

// RunItemFilter selects a page of a run's items.
type RunItemFilter struct {
	RunID   string
	Outcome Outcome
	Entity  Entity
	AfterID string
	Limit   int
}

// RunStore keeps run history.
type RunStore interface {
	// CreateRun inserts r; r.ID must be set. CreatedAt is set by the store when zero.
	CreateRun(ctx context.Context, r *Run) error
	// GetRun returns the run or a not-found error.
	GetRun(ctx context.Context, id string) (*Run, error)
	// UpdateRun reads the run, lets fn change it and writes it back, atomically.
	UpdateRun(ctx context.Context, id string, fn func(r *Run) error) (*Run, error)
	// ListRuns returns up to f.Limit runs, newest first (descending id).
	ListRuns(ctx context.Context, f RunFilter) ([]*Run, error)
	// AddRunItems appends items to their runs; each item's ID must be set.
	AddRunItems(ctx context.Context, items ...*RunItem) error
	// ListRunItems returns up to f.Limit items of one run in the order they were added.
	ListRunItems(ctx context.Context, f RunItemFilter) ([]*RunItem, error)
}

// LinkState says how far the creation of a Bind record has got.
type LinkState string

// The link states.
const (
	// LinkPending: the create was about to be sent; after a crash or timeout Bind must be searched
	// before anything is re-sent.
	LinkPending LinkState = "pending"
	// LinkConfirmed: the Bind record exists with BindID.
	LinkConfirmed LinkState = "confirmed"
	// LinkDeleted: the Bind record was deleted (or cancelled) on purpose.
	LinkDeleted LinkState = "deleted"
)

// Link ties a Handy record to the Bind record made from it.
type Link struct {
	ConnectionID string
	Entity       Entity
	HandyID      string
	BindID       string
	// BindExtra holds what else the sync needs of the Bind record: a client's address id.
	BindExtra      string
	State          LinkState
	PayloadDigest  string
	MappingVersion string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// LinkStore keeps the Handy-id to Bind-id ledger.
type LinkStore interface {
	// GetLink returns the link or a not-found error.
	GetLink(ctx context.Context, connectionID string, entity Entity, handyID string) (*Link, error)
	// PutLink inserts or replaces the link for (ConnectionID, Entity, HandyID). CreatedAt is kept
	// from the first insert; UpdatedAt is set by the store.
	PutLink(ctx context.Context, l *Link) error
	// PutLinks inserts or replaces many links at once (without filling in their times).
	PutLinks(ctx context.Context, links ...*Link) error
	// DeletePendingLinks removes the links of these Handy ids that are still pending.
	DeletePendingLinks(ctx context.Context, connectionID string, entity Entity, handyIDs ...string) error
	// GetLinks returns the links of these Handy ids that exist, by Handy id.
	GetLinks(ctx context.Context, connectionID string, entity Entity, handyIDs []string) (map[string]*Link, error)
	// FindLinkByBindID returns the link whose Bind record is bindID, or a not-found error.
	FindLinkByBindID(ctx context.Context, connectionID string, entity Entity, bindID string) (*Link, error)
	// RecentLinks returns up to limit links of entity in state, most recently changed first.
	RecentLinks(ctx context.Context, connectionID string, entity Entity, state LinkState, limit int) ([]*Link, error)
}

// PendingSale is a Handy sale that could not be sent yet; later runs try it again.
type PendingSale struct {
	ConnectionID string
	HandyID      string
	Reason       string
	Attempts     int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// SyncStateStore keeps where each sync has read up to and what it must try again.
type SyncStateStore interface {
	// GetCursor returns a sync's position; ok is false when it has none yet.
	GetCursor(ctx context.Context, connectionID string, kind SyncKind) (pos time.Time, ok bool, err error)
	// PutCursor stores a sync's position.
	PutCursor(ctx context.Context, connectionID string, kind SyncKind, pos time.Time) error
	// PutPendingSale records a sale to try again, or updates its reason and counts one more
	// attempt; it returns the record as stored (since when it waits, how often it was tried).
	PutPendingSale(ctx context.Context, connectionID, handyID, reason string) (*PendingSale, error)
	// DeletePendingSale forgets a sale that went through (or was deleted); a miss is not an error.
	DeletePendingSale(ctx context.Context, connectionID, handyID string) error
	// DeletePendingSales ends the wait of many sales at once; ids without a wait are ignored.
	DeletePendingSales(ctx context.Context, connectionID string, handyIDs ...string) error
	// ListPendingSales returns up to limit pending sales of a connection, oldest first.
	ListPendingSales(ctx context.Context, connectionID string, limit int) ([]*PendingSale, error)
	// PutSyncOutcome records how a sync of a connection ended: a success at at, or a failure at at
	// with its error.
	PutSyncOutcome(ctx context.Context, connectionID string, kind SyncKind, ok bool, at time.Time, errText string) error
	// PutConsoleSession records a console sign-in until expires (and forgets expired ones).
	PutConsoleSession(ctx context.Context, id string, expires time.Time) error
	// ConsoleSessionActive says whether a sign-in exists and has not expired.
	ConsoleSessionActive(ctx context.Context, id string) (bool, error)
	// DeleteConsoleSession ends a sign-in; a miss is not an error.
	DeleteConsoleSession(ctx context.Context, id string) error
	// WaitingStats counts the pending sales of every connection and gives when the oldest began
	// to wait (zero when none waits).
	WaitingStats(ctx context.Context) (count int, oldest time.Time, err error)
	// ListSyncHealth returns the sync outcomes of the given connections (every connection when
	// ids is nil), by connection id and kind.
	ListSyncHealth(ctx context.Context, ids []string) (map[string]map[SyncKind]SyncHealth, error)
}

// SyncHealth is when a kind of sync of a connection last succeeded and last failed (zero: never).
type SyncHealth struct {
	LastSuccess, LastFailure time.Time
	LastError                string
}

// TenantPattern is what a tenant name looks like: a Handy company's short name (the API's
// protovalidate rules say the same).
var TenantPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Role is what an API key may do.
type Role string

// The roles.
const (
	// RolePlatform is Handy's backend: every tenant.
	RolePlatform Role = "platform"
	// RolePartner manages the connections and runs of one tenant.
	RolePartner Role = "partner"
	// RoleIntegrator works on mappings and reads the runs of one tenant.
	RoleIntegrator Role = "integrator"
)

// APIKey is a caller's credential. Only a hash of its secret is kept.
type APIKey struct {
	ID     string // the public part of the key, also its name in logs and the audit log
	Name   string
	Role   Role
	Tenant string // empty for platform keys
	// SecretHash is the SHA-256 of the key's secret part.
	SecretHash []byte
	// CertCN, when set, lets a verified client certificate with this common name act as this key.
	CertCN    string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: live
}

// KeyFilter selects a page of keys.
type KeyFilter struct {
	AfterID        string
	Limit          int
	IncludeRevoked bool
}

// KeyStore keeps API keys.
type KeyStore interface {
	// CreateKey inserts k; an existing id, or a certificate name held by another live key, is a
	// conflict. CreatedAt is set by the store.
	CreateKey(ctx context.Context, k *APIKey) error
	// GetKey returns the key (revoked or not) or a not-found error.
	GetKey(ctx context.Context, id string) (*APIKey, error)
	// GetKeyByCertCN returns the live key bound to a client certificate name, or a not-found error.
	GetKeyByCertCN(ctx context.Context, cn string) (*APIKey, error)
	// ListKeys returns up to f.Limit keys in ascending id order.
	ListKeys(ctx context.Context, f KeyFilter) ([]*APIKey, error)
	// RevokeKey marks the key revoked now, and returns it; revoking a revoked key keeps the first
	// time. A missing key is not-found.
	RevokeKey(ctx context.Context, id string) (*APIKey, error)
}

// AuditEvent records one change: who made it, to what, and how it ended.
type AuditEvent struct {
	ID       string // a time-ordered UUID
	Time     time.Time
	KeyID    string
	Role     Role
	Tenant   string
	Method   string // the API method or CLI command
	Resource string // for example "connections/<id>"
	Outcome  string // "OK" or the error code
}

// AuditFilter selects a page of the audit log.
type AuditFilter struct {
	Tenant   string // empty: every tenant
	BeforeID string // only ids less than this (paging, newest first)
	Limit    int
}

// AuditStore keeps the audit log, which is only ever appended to.
type AuditStore interface {
	// AppendAudit inserts e; e.ID must be set. Time is set by the store when zero.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// ListAudit returns up to f.Limit events, newest first (descending id).
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
}

// MappingVersion is a mapping version published through the API. Its source never changes; it
// can only be deprecated (no longer offered for pinning) or deleted (gone from the API, its
// number never reused).
type MappingVersion struct {
	ID     string
	Name   string // the mapping family, such as handy-bind
	Number int    // N of vN
	// Tenant owns the version; empty for a global version.
	Tenant       string
	Source       string
	Checksum     string
	Description  string
	AuthorKeyID  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	DeprecatedAt time.Time // zero: not deprecated
	DeletedAt    time.Time // zero: not deleted
}

// MappingVersionStamp says when a stored version last changed, without its source.
type MappingVersionStamp struct {
	ID        string
	UpdatedAt time.Time
}

// MappingVersionStore keeps the published mapping versions.
type MappingVersionStore interface {
	// MaxMappingVersion is the highest number of name a new version in tenant must exceed,
	// deleted versions included: for a tenant, its own and the global versions; for a global
	// version (tenant empty), every tenant's, so a global number never shadows a tenant's.
	MaxMappingVersion(ctx context.Context, name, tenant string) (int, error)
	// PublishMappingVersion stores v under the number it carries, which must be exactly one
	// more than the highest one (and than floor, the highest built-in): otherwise another
	// version was published meanwhile and the error is errs.KindConflict. Sets the times.
	PublishMappingVersion(ctx context.Context, v *MappingVersion, floor int) error
	// MappingVersionStamps lists every stored version, deleted ones too, by id.
	MappingVersionStamps(ctx context.Context) ([]MappingVersionStamp, error)
	// GetMappingVersions returns the versions with these ids, with their sources.
	GetMappingVersions(ctx context.Context, ids []string) ([]*MappingVersion, error)
	// DeprecateMappingVersion and DeleteMappingVersion mark a version; the first mark stays.
	DeprecateMappingVersion(ctx context.Context, id string) (*MappingVersion, error)
	DeleteMappingVersion(ctx context.Context, id string) (*MappingVersion, error)
	// ConnectionsUsingMapping lists the ids of connections pinned to version (such as "v3"),
	// of one tenant, or of every tenant when tenant is empty.
	ConnectionsUsingMapping(ctx context.Context, tenant, version string) ([]string, error)
}
