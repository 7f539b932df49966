package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/store"
)

// Store implements store.Store on a DB.
type Store struct {
	db *gorm.DB
	// read serves reads outside transactions: on SQLite a pool of read-only connections, which
	// WAL lets run beside the one writer; on PostgreSQL the same pool as db.
	read    *gorm.DB
	dialect Dialect
	inTx    bool
	now     func() time.Time
	count   *counter
	conns   *connCache // nil inside a transaction
}

var _ store.Store = (*Store)(nil)

// New returns a Store on db. The schema must be migrated.
func New(db *DB) *Store {
	read := db.readGorm
	if read == nil {
		read = db.gorm
	}
	return &Store{db: db.gorm, read: read, dialect: db.Dialect, now: func() time.Time { return time.Now().UTC() }, count: db.count, conns: newConnCache(connCacheSize)}
}

// reads is where a read runs: the transaction's connection inside one, the read pool otherwise.
// Every write is committed before it returns, so a read after it sees it.
func (s *Store) reads() *gorm.DB {
	if s.inTx || s.read == nil {
		return s.db
	}
	return s.read
}

// timestamp is now at the precision both databases keep (PostgreSQL stores microseconds), so a
// value read back equals the value written.
func (s *Store) timestamp() time.Time { return s.now().Truncate(time.Microsecond) }

// Tx implements store.Store.
func (s *Store) Tx(ctx context.Context, fn func(tx store.Store) error) error {
	if s.inTx {
		return fn(s)
	}
	if s.count != nil {
		s.count.n.Add(2) // BEGIN, and COMMIT or ROLLBACK
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx, dialect: s.dialect, inTx: true, now: s.now, count: s.count})
	})
}

// SQLTx returns the database transaction behind a store handed out by Tx, so that River can
// insert jobs in the same transaction as the state change that asks for them.
func SQLTx(s store.Store) (*sql.Tx, bool) {
	st, ok := s.(*Store)
	if !ok || !st.inTx {
		return nil, false
	}
	tx, ok := st.db.Statement.ConnPool.(*sql.Tx)
	return tx, ok
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// forUpdate locks the rows read, where the database can: SQLite's immediate transactions already
// serialise writers.
func (s *Store) forUpdate(q *gorm.DB) *gorm.DB {
	if s.dialect == Postgres {
		return q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return q
}

// adapt turns driver errors into domain errors; what must be named is given by what.
func adapt(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return errs.NotFound("%s not found", what)
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return errs.Conflict(err, "%s already exists", what)
		case "23503":
			return &errs.Error{Kind: errs.KindNotFound, Message: "the record " + what + " refers to does not exist", Cause: err}
		}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "UNIQUE constraint failed"):
		return errs.Conflict(err, "%s already exists", what)
	case strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return &errs.Error{Kind: errs.KindNotFound, Message: "the record " + what + " refers to does not exist", Cause: err}
	}
	return fmt.Errorf("storage: %s: %w", what, err)
}

// CreateConnection implements store.ConnectionStore.
func (s *Store) CreateConnection(ctx context.Context, c *store.Connection) error {
	now := s.timestamp()
	c.CreatedAt, c.UpdatedAt = now, now
	return adapt(s.db.WithContext(ctx).Create(toConnectionRow(c)).Error, "connection "+c.ID)
}

// GetConnection implements store.ConnectionStore.
func (s *Store) GetConnection(ctx context.Context, id string) (*store.Connection, error) {
	var row connectionRow
	if err := s.reads().WithContext(ctx).Where("id = ?", uuidKey(id)).Take(&row).Error; err != nil {
		return nil, adapt(err, "connection "+id)
	}
	return row.toStore(), nil
}

// ListConnections implements store.ConnectionStore. It is the API's busiest read, so outside
// transactions it reads only each connection's id and update time, and the rest from the
// connections it read before, if they have not changed since (every write of a connection stamps
// a new update time); only new and changed connections are read in full, in one query.
func (s *Store) ListConnections(ctx context.Context, f store.ConnectionFilter) ([]*store.Connection, error) {
	var where []string
	var args []any
	if f.Tenant != "" {
		where, args = append(where, "tenant = ?"), append(args, f.Tenant)
	}
	if f.State != "" {
		where, args = append(where, "state = ?"), append(args, string(f.State))
	}
	if f.AfterID != "" {
		where, args = append(where, "id > ?"), append(args, f.AfterID)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	filter := args
	args = append(slices.Clip(args), f.Limit)
	if s.conns == nil { // inside a transaction: read what it sees, in full
		return s.scanConnections(ctx, "SELECT "+connectionColumns+" FROM connections"+cond+" ORDER BY id ASC LIMIT ?", args...)
	}
	rows, err := s.reads().WithContext(ctx).Raw("SELECT id, updated_at FROM connections"+cond+" ORDER BY id ASC LIMIT ?", args...).Rows()
	if err != nil {
		return nil, adapt(err, "connections")
	}
	defer rows.Close()
	var stamps []connStamp
	for rows.Next() {
		var st connStamp
		if err := rows.Scan(&st.id, &st.updated); err != nil {
			return nil, adapt(err, "connections")
		}
		stamps = append(stamps, st)
	}
	if err := rows.Err(); err != nil {
		return nil, adapt(err, "connections")
	}
	rows.Close()
	out := make([]*store.Connection, len(stamps))
	var missing []string
	for i, st := range stamps {
		if out[i] = s.conns.get(st); out[i] == nil {
			missing = append(missing, st.id)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	// The filter again: a connection changed between the two reads (paused, say) must not be
	// listed among those it no longer matches.
	inCond := " WHERE " + strings.Join(append([]string{"id IN ?"}, where...), " AND ")
	read, err := s.scanConnections(ctx, "SELECT "+connectionColumns+" FROM connections"+inCond, append([]any{missing}, filter...)...)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*store.Connection, len(read))
	for _, c := range read {
		byID[c.ID] = c
		s.conns.put(c)
	}
	n := 0
	for i, st := range stamps {
		if out[i] == nil {
			// Deleted between the two reads: the page goes without it.
			if out[i] = byID[st.id]; out[i] == nil {
				continue
			}
		}
		out[n] = out[i]
		n++
	}
	return out[:n], nil
}

// scanConnections reads connections in full, straight into rows rather than through GORM's
// reflection, which cost about as much as the query.
func (s *Store) scanConnections(ctx context.Context, q string, args ...any) ([]*store.Connection, error) {
	rows, err := s.reads().WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, adapt(err, "connections")
	}
	defer rows.Close()
	var out []*store.Connection
	var r connectionRow
	for rows.Next() {
		if err := rows.Scan(r.fields()...); err != nil {
			return nil, adapt(err, "connections")
		}
		out = append(out, r.toStore())
	}
	if err := rows.Err(); err != nil {
		return nil, adapt(err, "connections")
	}
	return out, nil
}

// UpdateConnection implements store.ConnectionStore.
func (s *Store) UpdateConnection(ctx context.Context, id string, fn func(*store.Connection) error) (*store.Connection, error) {
	var out *store.Connection
	err := s.Tx(ctx, func(tx store.Store) error {
		t := tx.(*Store)
		var row connectionRow
		if err := t.forUpdate(t.db.WithContext(ctx)).Where("id = ?", uuidKey(id)).Take(&row).Error; err != nil {
			return adapt(err, "connection "+id)
		}
		c := row.toStore()
		if err := fn(c); err != nil {
			return err
		}
		// The id, tenant and creation time are the record's identity; fn cannot change them.
		c.ID, c.Tenant, c.CreatedAt, c.UpdatedAt = row.ID, row.Tenant, row.CreatedAt.UTC(), t.timestamp()
		if err := t.db.WithContext(ctx).Select("*").Save(toConnectionRow(c)).Error; err != nil {
			return adapt(err, "connection "+id)
		}
		out = c
		return nil
	})
	return out, err
}

// LockConnection implements store.ConnectionStore. On SQLite the transaction already holds the
// database's one write lock (transactions begin IMMEDIATE), so reading the row is enough.
func (s *Store) LockConnection(ctx context.Context, id string) error {
	q := "SELECT 1 FROM connections WHERE id = ?"
	if s.dialect == Postgres {
		q += " FOR UPDATE"
	}
	var found []int
	if err := s.db.WithContext(ctx).Raw(q, uuidKey(id)).Scan(&found).Error; err != nil {
		return adapt(err, "connection "+id)
	}
	if len(found) == 0 {
		return errs.NotFound("connection %s not found", id)
	}
	return nil
}

// DeleteConnection implements store.ConnectionStore.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Where("id = ?", uuidKey(id)).Delete(&connectionRow{})
	if res.Error != nil {
		return adapt(res.Error, "connection "+id)
	}
	if res.RowsAffected == 0 {
		return errs.NotFound("connection %s not found", id)
	}
	return nil
}

// CreateRun implements store.RunStore.
func (s *Store) CreateRun(ctx context.Context, r *store.Run) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.timestamp()
	}
	return adapt(s.db.WithContext(ctx).Create(toRunRow(r)).Error, "run "+r.ID)
}

// GetRun implements store.RunStore.
func (s *Store) GetRun(ctx context.Context, id string) (*store.Run, error) {
	var row runRow
	if err := s.reads().WithContext(ctx).Where("id = ?", uuidKey(id)).Take(&row).Error; err != nil {
		return nil, adapt(err, "run "+id)
	}
	return row.toStore(), nil
}

// UpdateRun implements store.RunStore.
func (s *Store) UpdateRun(ctx context.Context, id string, fn func(*store.Run) error) (*store.Run, error) {
	var out *store.Run
	err := s.Tx(ctx, func(tx store.Store) error {
		t := tx.(*Store)
		var row runRow
		if err := t.forUpdate(t.db.WithContext(ctx)).Where("id = ?", uuidKey(id)).Take(&row).Error; err != nil {
			return adapt(err, "run "+id)
		}
		r := row.toStore()
		if err := fn(r); err != nil {
			return err
		}
		r.ID, r.ConnectionID, r.CreatedAt = row.ID, row.ConnectionID, row.CreatedAt.UTC()
		if err := t.db.WithContext(ctx).Select("*").Save(toRunRow(r)).Error; err != nil {
			return adapt(err, "run "+id)
		}
		out = r
		return nil
	})
	return out, err
}

// ListRuns implements store.RunStore.
func (s *Store) ListRuns(ctx context.Context, f store.RunFilter) ([]*store.Run, error) {
	q := s.reads().WithContext(ctx).Order("id DESC").Limit(f.Limit)
	if f.ConnectionID != "" {
		q = q.Where("connection_id = ?", uuidKey(f.ConnectionID))
	}
	if f.Kind != "" {
		q = q.Where("kind = ?", string(f.Kind))
	}
	if f.State != "" {
		q = q.Where("state = ?", string(f.State))
	}
	if f.BeforeID != "" {
		q = q.Where("id < ?", f.BeforeID)
	}
	var rows []runRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, adapt(err, "runs")
	}
	out := make([]*store.Run, len(rows))
	for i := range rows {
		out[i] = rows[i].toStore()
	}
	return out, nil
}

// AddRunItems implements store.RunStore.
func (s *Store) AddRunItems(ctx context.Context, items ...*store.RunItem) error {
	if len(items) == 0 {
		return nil
	}
	now := s.timestamp()
	rows := make([]*runItemRow, len(items))
	for i, it := range items {
		if it.CreatedAt.IsZero() {
			it.CreatedAt = now
		}
		rows[i] = toRunItemRow(it)
	}
	return adapt(s.db.WithContext(ctx).CreateInBatches(rows, 200).Error, "run items of run "+items[0].RunID)
}

// ListRunItems implements store.RunStore.
func (s *Store) ListRunItems(ctx context.Context, f store.RunItemFilter) ([]*store.RunItem, error) {
	q := s.reads().WithContext(ctx).Where("run_id = ?", uuidKey(f.RunID)).Order("id ASC").Limit(f.Limit)
	if f.Outcome != "" {
		q = q.Where("outcome = ?", string(f.Outcome))
	}
	if f.Entity != "" {
		q = q.Where("entity = ?", string(f.Entity))
	}
	if f.AfterID != "" {
		q = q.Where("id > ?", f.AfterID)
	}
	var rows []runItemRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, adapt(err, "run items")
	}
	out := make([]*store.RunItem, len(rows))
	for i := range rows {
		out[i] = rows[i].toStore()
	}
	return out, nil
}

// GetLink implements store.LinkStore.
func (s *Store) GetLink(ctx context.Context, connectionID string, entity store.Entity, handyID string) (*store.Link, error) {
	var row linkRow
	err := s.db.WithContext(ctx).
		Where("connection_id = ? AND entity = ? AND handy_id = ?", connectionID, string(entity), handyID).
		Take(&row).Error
	if err != nil {
		return nil, adapt(err, fmt.Sprintf("link for %s %s", entity, handyID))
	}
	return row.toStore(), nil
}

// FindLinkByBindID implements store.LinkStore.
func (s *Store) FindLinkByBindID(ctx context.Context, connectionID string, entity store.Entity, bindID string) (*store.Link, error) {
	var row linkRow
	err := s.db.WithContext(ctx).
		Where("connection_id = ? AND entity = ? AND bind_id = ?", connectionID, string(entity), bindID).
		Order("updated_at DESC").Take(&row).Error
	if err != nil {
		return nil, adapt(err, fmt.Sprintf("link to Bind %s %s", entity, bindID))
	}
	return row.toStore(), nil
}

// RecentLinks implements store.LinkStore.
func (s *Store) RecentLinks(ctx context.Context, connectionID string, entity store.Entity, state store.LinkState, limit int) ([]*store.Link, error) {
	var rows []linkRow
	err := s.reads().WithContext(ctx).
		Where("connection_id = ? AND entity = ? AND state = ?", connectionID, string(entity), string(state)).
		Order("updated_at DESC, handy_id DESC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, adapt(err, fmt.Sprintf("%s links", entity))
	}
	out := make([]*store.Link, len(rows))
	for i := range rows {
		out[i] = rows[i].toStore()
	}
	return out, nil
}

// linkConflict makes an insert of links an upsert that keeps the first insert's created_at.
var linkConflict = clause.OnConflict{
	Columns:   []clause.Column{{Name: "connection_id"}, {Name: "entity"}, {Name: "handy_id"}},
	DoUpdates: clause.AssignmentColumns([]string{"bind_id", "bind_extra", "state", "payload_digest", "mapping_version", "updated_at"}),
}

func toLinkRow(l *store.Link, now time.Time) *linkRow {
	return &linkRow{
		ConnectionID: l.ConnectionID, Entity: string(l.Entity), HandyID: l.HandyID, BindID: l.BindID, BindExtra: l.BindExtra,
		State: string(l.State), PayloadDigest: l.PayloadDigest, MappingVersion: l.MappingVersion, CreatedAt: now, UpdatedAt: now,
	}
}

// PutLink implements store.LinkStore.
func (s *Store) PutLink(ctx context.Context, l *store.Link) error {
	row := toLinkRow(l, s.timestamp())
	// RETURNING gives back the kept created_at in the same statement: no read after the write.
	err := s.db.WithContext(ctx).Clauses(linkConflict, clause.Returning{Columns: []clause.Column{{Name: "created_at"}}}).Create(row).Error
	if err != nil {
		return adapt(err, fmt.Sprintf("link for %s %s", l.Entity, l.HandyID))
	}
	*l = *row.toStore()
	return nil
}

// PutLinks implements store.LinkStore.
func (s *Store) PutLinks(ctx context.Context, links ...*store.Link) error {
	if len(links) == 0 {
		return nil
	}
	now := s.timestamp()
	rows := make([]*linkRow, len(links))
	for i, l := range links {
		rows[i] = toLinkRow(l, now)
	}
	err := s.db.WithContext(ctx).Clauses(linkConflict).CreateInBatches(rows, 200).Error
	return adapt(err, fmt.Sprintf("%d links", len(links)))
}

// DeletePendingLinks implements store.LinkStore.
func (s *Store) DeletePendingLinks(ctx context.Context, connectionID string, entity store.Entity, handyIDs ...string) error {
	for len(handyIDs) > 0 {
		batch := handyIDs[:min(len(handyIDs), 500)]
		handyIDs = handyIDs[len(batch):]
		err := s.db.WithContext(ctx).Where("connection_id = ? AND entity = ? AND state = ? AND handy_id IN ?", connectionID, string(entity), string(store.LinkPending), batch).
			Delete(&linkRow{}).Error
		if err != nil {
			return adapt(err, fmt.Sprintf("%s links", entity))
		}
	}
	return nil
}

// GetLinks implements store.LinkStore.
func (s *Store) GetLinks(ctx context.Context, connectionID string, entity store.Entity, handyIDs []string) (map[string]*store.Link, error) {
	out := make(map[string]*store.Link, len(handyIDs))
	for len(handyIDs) > 0 {
		batch := handyIDs[:min(len(handyIDs), 500)]
		handyIDs = handyIDs[len(batch):]
		var rows []linkRow
		err := s.db.WithContext(ctx).Where("connection_id = ? AND entity = ? AND handy_id IN ?", connectionID, string(entity), batch).Find(&rows).Error
		if err != nil {
			return nil, adapt(err, fmt.Sprintf("%s links", entity))
		}
		for i := range rows {
			out[rows[i].HandyID] = rows[i].toStore()
		}
	}
	return out, nil
}

// GetCursor implements store.SyncStateStore.
func (s *Store) GetCursor(ctx context.Context, connectionID string, kind store.SyncKind) (time.Time, bool, error) {
	var row cursorRow
	err := s.db.WithContext(ctx).Where("connection_id = ? AND kind = ?", connectionID, string(kind)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, adapt(err, "cursor")
	}
	return row.Position.UTC(), true, nil
}

// PutCursor implements store.SyncStateStore.
func (s *Store) PutCursor(ctx context.Context, connectionID string, kind store.SyncKind, pos time.Time) error {
	row := &cursorRow{ConnectionID: connectionID, Kind: string(kind), Position: pos.UTC().Truncate(time.Microsecond), UpdatedAt: s.timestamp()}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "connection_id"}, {Name: "kind"}},
		DoUpdates: clause.AssignmentColumns([]string{"position", "updated_at"}),
	}).Create(row).Error
	return adapt(err, fmt.Sprintf("cursor of %s sync", kind))
}

// PutSyncOutcome implements store.SyncStateStore.
func (s *Store) PutSyncOutcome(ctx context.Context, connectionID string, kind store.SyncKind, ok bool, at time.Time, errText string) error {
	row := &syncHealthRow{ConnectionID: uuidKey(connectionID), Kind: string(kind)}
	cols := []string{"last_failure_at", "last_error"}
	if ok {
		row.LastSuccessAt, cols = nullTime(at.UTC().Truncate(time.Microsecond)), []string{"last_success_at"}
	} else {
		row.LastFailureAt, row.LastError = nullTime(at.UTC().Truncate(time.Microsecond)), errText
	}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "connection_id"}, {Name: "kind"}},
		DoUpdates: clause.AssignmentColumns(cols),
	}).Create(row).Error
	return adapt(err, fmt.Sprintf("health of %s sync", kind))
}

// PutConsoleSession implements store.SyncStateStore.
func (s *Store) PutConsoleSession(ctx context.Context, id string, expires time.Time) error {
	db := s.db.WithContext(ctx)
	if err := db.Where("expires_at < ?", s.timestamp()).Delete(&consoleSessionRow{}).Error; err != nil {
		return adapt(err, "console sessions")
	}
	return adapt(db.Create(&consoleSessionRow{ID: id, ExpiresAt: expires.UTC().Truncate(time.Microsecond)}).Error, "console session")
}

// ConsoleSessionActive implements store.SyncStateStore.
func (s *Store) ConsoleSessionActive(ctx context.Context, id string) (bool, error) {
	var n int64
	err := s.reads().WithContext(ctx).Model(&consoleSessionRow{}).Where("id = ? AND expires_at > ?", id, s.timestamp()).Count(&n).Error
	return n > 0, adapt(err, "console session")
}

// DeleteConsoleSession implements store.SyncStateStore.
func (s *Store) DeleteConsoleSession(ctx context.Context, id string) error {
	return adapt(s.db.WithContext(ctx).Where("id = ?", id).Delete(&consoleSessionRow{}).Error, "console session")
}

// WaitingStats implements store.SyncStateStore.
func (s *Store) WaitingStats(ctx context.Context) (int, time.Time, error) {
	var n int64
	if err := s.reads().WithContext(ctx).Model(&pendingSaleRow{}).Count(&n).Error; err != nil {
		return 0, time.Time{}, adapt(err, "waiting sales")
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var oldest pendingSaleRow
	if err := s.reads().WithContext(ctx).Order("created_at").Take(&oldest).Error; err != nil {
		return 0, time.Time{}, adapt(err, "waiting sales")
	}
	return int(n), oldest.CreatedAt.UTC(), nil
}

// ListSyncHealth implements store.SyncStateStore.
func (s *Store) ListSyncHealth(ctx context.Context, ids []string) (map[string]map[store.SyncKind]store.SyncHealth, error) {
	q := "SELECT connection_id, kind, last_success_at, last_failure_at, last_error FROM sync_health"
	var args []any
	if ids != nil {
		if len(ids) == 0 {
			return map[string]map[store.SyncKind]store.SyncHealth{}, nil
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = uuidKey(id)
		}
		q, args = q+" WHERE connection_id IN ?", []any{keys}
	}
	// Scanned by hand, as ListConnections is: it is read with every page of connections.
	rows, err := s.reads().WithContext(ctx).Raw(q, args...).Rows()
	if err != nil {
		return nil, adapt(err, "sync health")
	}
	defer rows.Close()
	out := map[string]map[store.SyncKind]store.SyncHealth{}
	var r syncHealthRow
	for rows.Next() {
		if err := rows.Scan(&r.ConnectionID, &r.Kind, &r.LastSuccessAt, &r.LastFailureAt, &r.LastError); err != nil {
			return nil, adapt(err, "sync health")
		}
		id := strings.ToLower(r.ConnectionID)
		if out[id] == nil {
			out[id] = map[store.SyncKind]store.SyncHealth{}
		}
		out[id][store.SyncKind(r.Kind)] = store.SyncHealth{
			LastSuccess: fromNullTime(r.LastSuccessAt), LastFailure: fromNullTime(r.LastFailureAt), LastError: r.LastError,
		}
	}
	if err := rows.Err(); err != nil {
		return nil, adapt(err, "sync health")
	}
	return out, nil
}

// PutPendingSale implements store.SyncStateStore.
func (s *Store) PutPendingSale(ctx context.Context, connectionID, handyID, reason string) (*store.PendingSale, error) {
	now := s.timestamp()
	row := &pendingSaleRow{ConnectionID: connectionID, HandyID: handyID, Reason: reason, Attempts: 1, CreatedAt: now, UpdatedAt: now}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "connection_id"}, {Name: "handy_id"}},
		DoUpdates: clause.Set{
			{Column: clause.Column{Name: "reason"}, Value: reason},
			{Column: clause.Column{Name: "attempts"}, Value: gorm.Expr("pending_sales.attempts + 1")},
			{Column: clause.Column{Name: "updated_at"}, Value: now},
		},
	}).Create(row).Error
	if err != nil {
		return nil, adapt(err, "pending sale "+handyID)
	}
	var got pendingSaleRow
	if err := s.db.WithContext(ctx).Where("connection_id = ? AND handy_id = ?", connectionID, handyID).Take(&got).Error; err != nil {
		return nil, adapt(err, "pending sale "+handyID)
	}
	return &store.PendingSale{ConnectionID: got.ConnectionID, HandyID: got.HandyID, Reason: got.Reason, Attempts: got.Attempts,
		CreatedAt: got.CreatedAt.UTC(), UpdatedAt: got.UpdatedAt.UTC()}, nil
}

// DeletePendingSale implements store.SyncStateStore.
func (s *Store) DeletePendingSale(ctx context.Context, connectionID, handyID string) error {
	return s.DeletePendingSales(ctx, connectionID, handyID)
}

// DeletePendingSales implements store.SyncStateStore.
func (s *Store) DeletePendingSales(ctx context.Context, connectionID string, handyIDs ...string) error {
	for len(handyIDs) > 0 {
		batch := handyIDs[:min(len(handyIDs), 500)]
		handyIDs = handyIDs[len(batch):]
		err := s.db.WithContext(ctx).Where("connection_id = ? AND handy_id IN ?", connectionID, batch).Delete(&pendingSaleRow{}).Error
		if err != nil {
			return adapt(err, "pending sales")
		}
	}
	return nil
}

// ListPendingSales implements store.SyncStateStore.
func (s *Store) ListPendingSales(ctx context.Context, connectionID string, limit int) ([]*store.PendingSale, error) {
	var rows []pendingSaleRow
	err := s.db.WithContext(ctx).Where("connection_id = ?", connectionID).Order("created_at ASC, handy_id ASC").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, adapt(err, "pending sales")
	}
	out := make([]*store.PendingSale, len(rows))
	for i, r := range rows {
		out[i] = &store.PendingSale{ConnectionID: r.ConnectionID, HandyID: r.HandyID, Reason: r.Reason, Attempts: r.Attempts,
			CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	}
	return out, nil
}

// uuidKey is an id as the database holds it: UUIDs are written in lower case, and a caller's
// upper-case spelling names the same record (PostgreSQL's uuid type agrees; SQLite's text would not).
func uuidKey(id string) string { return strings.ToLower(id) }
