// Package storetest is the conformance suite every store.Store implementation must pass.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
)

// Run runs the suite; newStore must return an empty, migrated store for each call.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"ConnectionRoundTrip", testConnectionRoundTrip},
		{"ConnectionMissesAndDuplicates", testConnectionMissesAndDuplicates},
		{"ConnectionListPages", testConnectionListPages},
		{"ConnectionUpdate", testConnectionUpdate},
		{"ConnectionConcurrentUpdates", testConnectionConcurrentUpdates},
		{"ConnectionLock", testConnectionLock},
		{"ConnectionDeleteCascades", testConnectionDeleteCascades},
		{"Runs", testRuns},
		{"RunItems", testRunItems},
		{"Links", testLinks},
		{"TxCommitsAndRollsBack", testTx},
		{"SyncState", testSyncState},
		{"ConnectionTenants", testConnectionTenants},
		{"Keys", testKeys},
		{"Audit", testAudit},
		{"MappingVersions", testMappingVersions},
		{"MappingVersionsConcurrentPublish", testMappingVersionsConcurrentPublish},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func newID(t *testing.T) string {
	t.Helper()
	id, err := uuid.NewV7()
	require.NoError(t, err)
	return id.String()
}

func sampleConnection(t *testing.T) *store.Connection {
	return &store.Connection{
		ID:           newID(t),
		Tenant:       "acme",
		DisplayName:  "Distribuidora del Norte",
		State:        store.ConnectionDraft,
		HandyBaseURL: "http://127.0.0.1:1/api/v2",
		HandyToken:   secret.Sealed{KeyID: "k1", Ciphertext: []byte{0, 1, 2, 3, 255}},
		BindBaseURL:  "http://127.0.0.1:2",
		BindUserName: "ventas@example.com",
		BindToken:    secret.Sealed{KeyID: "k2", Ciphertext: []byte{9, 8, 7}},
		Settings: store.Settings{
			PriceList: "Lista General", Currency: "MXN", Warehouse: "Matriz",
			LedgerAccount: "105-01-001", TimeZone: "America/Mexico_City",
		},
		MappingVersion: "v1",
	}
}

func requireKind(t *testing.T, err error, k errs.Kind) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, k, errs.KindOf(err), "error %q", err)
}

func testConnectionRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	c.Resolved = store.ResolvedIDs{
		PriceListID: "pl", CurrencyID: "cur", WarehouseID: "wh", LocationID: "loc", AccountID: "acc", UserID: "usr",
		ResolvedAt: time.Date(2026, 3, 1, 8, 0, 0, 123456000, time.UTC),
	}
	require.NoError(t, s.CreateConnection(ctx, c))
	require.False(t, c.CreatedAt.IsZero())
	require.Equal(t, c.CreatedAt, c.UpdatedAt)

	got, err := s.GetConnection(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, c, got)
}

func testConnectionMissesAndDuplicates(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetConnection(ctx, newID(t))
	requireKind(t, err, errs.KindNotFound)

	c := sampleConnection(t)
	require.NoError(t, s.CreateConnection(ctx, c))
	requireKind(t, s.CreateConnection(ctx, c), errs.KindConflict)

	requireKind(t, s.DeleteConnection(ctx, newID(t)), errs.KindNotFound)
	_, err = s.UpdateConnection(ctx, newID(t), func(*store.Connection) error { return nil })
	requireKind(t, err, errs.KindNotFound)
}

func testConnectionListPages(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 5 {
		c := sampleConnection(t)
		c.DisplayName = fmt.Sprintf("c%d", i)
		if i%2 == 1 {
			c.State = store.ConnectionActive
		}
		require.NoError(t, s.CreateConnection(ctx, c))
		ids = append(ids, c.ID)
	}
	first, err := s.ListConnections(ctx, store.ConnectionFilter{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, ids[:2], connIDs(first))
	rest, err := s.ListConnections(ctx, store.ConnectionFilter{Limit: 10, AfterID: first[1].ID})
	require.NoError(t, err)
	require.Equal(t, ids[2:], connIDs(rest))

	active, err := s.ListConnections(ctx, store.ConnectionFilter{Limit: 10, State: store.ConnectionActive})
	require.NoError(t, err)
	require.Equal(t, []string{ids[1], ids[3]}, connIDs(active))
}

func connIDs(cs []*store.Connection) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

func testConnectionUpdate(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	require.NoError(t, s.CreateConnection(ctx, c))

	boom := errors.New("boom")
	_, err := s.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
		c.DisplayName = "never written"
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, err := s.GetConnection(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, "Distribuidora del Norte", got.DisplayName)

	time.Sleep(2 * time.Millisecond)
	updated, err := s.UpdateConnection(ctx, c.ID, func(u *store.Connection) error {
		u.ID = "ignored"
		u.DisplayName = "Renamed"
		u.State = store.ConnectionPaused
		u.HandyToken = secret.Sealed{}
		u.Settings.Warehouse = ""
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, c.ID, updated.ID)
	require.True(t, updated.UpdatedAt.After(c.UpdatedAt))
	got, err = s.GetConnection(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, updated, got)
	require.Equal(t, "Renamed", got.DisplayName)
	require.True(t, got.HandyToken.IsZero(), "a cleared token is stored as cleared")
	require.Empty(t, got.Settings.Warehouse, "zero values are written, not skipped")
	require.Equal(t, c.CreatedAt, got.CreatedAt)
}

func testConnectionConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	c.DisplayName = "0"
	require.NoError(t, s.CreateConnection(ctx, c))

	const writers = 8
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			_, err := s.UpdateConnection(ctx, c.ID, func(u *store.Connection) error {
				var n int
				_, _ = fmt.Sscan(u.DisplayName, &n)
				u.DisplayName = fmt.Sprint(n + 1)
				return nil
			})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	got, err := s.GetConnection(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(writers), got.DisplayName, "no update may be lost")
}

func testConnectionDeleteCascades(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	require.NoError(t, s.CreateConnection(ctx, c))
	r := &store.Run{ID: newID(t), ConnectionID: c.ID, Kind: store.SyncSales, Trigger: store.TriggerManual, State: store.RunQueued}
	require.NoError(t, s.CreateRun(ctx, r))
	require.NoError(t, s.AddRunItems(ctx, &store.RunItem{ID: newID(t), RunID: r.ID, Entity: store.EntitySale, HandyID: "1", Outcome: store.OutcomeCreated}))
	require.NoError(t, s.PutLink(ctx, &store.Link{ConnectionID: c.ID, Entity: store.EntitySale, HandyID: "1", BindID: "b", State: store.LinkConfirmed}))

	require.NoError(t, s.DeleteConnection(ctx, c.ID))
	_, err := s.GetConnection(ctx, c.ID)
	requireKind(t, err, errs.KindNotFound)
	_, err = s.GetRun(ctx, r.ID)
	requireKind(t, err, errs.KindNotFound)
	items, err := s.ListRunItems(ctx, store.RunItemFilter{RunID: r.ID, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, items)
	_, err = s.GetLink(ctx, c.ID, store.EntitySale, "1")
	requireKind(t, err, errs.KindNotFound)
}

func testRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	require.NoError(t, s.CreateConnection(ctx, c))

	orphan := &store.Run{ID: newID(t), ConnectionID: newID(t), Kind: store.SyncSales, Trigger: store.TriggerManual, State: store.RunQueued}
	requireKind(t, s.CreateRun(ctx, orphan), errs.KindNotFound)

	var runs []*store.Run
	for i := range 4 {
		kind := store.SyncSales
		if i == 2 {
			kind = store.SyncProducts
		}
		r := &store.Run{ID: newID(t), ConnectionID: c.ID, Kind: kind, Trigger: store.TriggerSchedule, State: store.RunQueued, MappingVersion: "v1", MappingChecksum: "abc"}
		require.NoError(t, s.CreateRun(ctx, r))
		runs = append(runs, r)
	}
	got, err := s.GetRun(ctx, runs[0].ID)
	require.NoError(t, err)
	require.Equal(t, runs[0], got)
	_, err = s.GetRun(ctx, newID(t))
	requireKind(t, err, errs.KindNotFound)

	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	done, err := s.UpdateRun(ctx, runs[1].ID, func(r *store.Run) error {
		r.State = store.RunPartial
		r.WindowStart, r.WindowEnd = start, start.Add(10*time.Minute)
		r.StartedAt, r.FinishedAt = start.Add(11*time.Minute), start.Add(12*time.Minute)
		r.Counts = store.Counts{Created: 3, Failed: 1, Skipped: 2}
		r.Error = "1 sale failed"
		return nil
	})
	require.NoError(t, err)
	got, err = s.GetRun(ctx, runs[1].ID)
	require.NoError(t, err)
	require.Equal(t, done, got)
	require.Equal(t, 3, got.Counts.Created)
	require.Equal(t, start, got.WindowStart)

	newest, err := s.ListRuns(ctx, store.RunFilter{ConnectionID: c.ID, Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{runs[3].ID, runs[2].ID}, runIDs(newest))
	older, err := s.ListRuns(ctx, store.RunFilter{ConnectionID: c.ID, Limit: 10, BeforeID: newest[1].ID})
	require.NoError(t, err)
	require.Equal(t, []string{runs[1].ID, runs[0].ID}, runIDs(older))

	sales, err := s.ListRuns(ctx, store.RunFilter{ConnectionID: c.ID, Kind: store.SyncSales, State: store.RunQueued, Limit: 10})
	require.NoError(t, err)
	require.Equal(t, []string{runs[3].ID, runs[0].ID}, runIDs(sales))
}

func runIDs(rs []*store.Run) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

func testRunItems(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	require.NoError(t, s.CreateConnection(ctx, c))
	r := &store.Run{ID: newID(t), ConnectionID: c.ID, Kind: store.SyncSales, Trigger: store.TriggerManual, State: store.RunRunning}
	require.NoError(t, s.CreateRun(ctx, r))

	var items []*store.RunItem
	for i := range 250 {
		outcome := store.OutcomeCreated
		if i%10 == 0 {
			outcome = store.OutcomeFailed
		}
		items = append(items, &store.RunItem{
			ID: newID(t), RunID: r.ID, Entity: store.EntitySale, HandyID: fmt.Sprint(i),
			Outcome: outcome, Reason: "why", PayloadDigest: "d", MappingVersion: "v1",
		})
	}
	require.NoError(t, s.AddRunItems(ctx, items...))

	page, err := s.ListRunItems(ctx, store.RunItemFilter{RunID: r.ID, Limit: 100})
	require.NoError(t, err)
	require.Len(t, page, 100)
	require.Equal(t, items[0], page[0])
	require.Equal(t, "99", page[99].HandyID)
	next, err := s.ListRunItems(ctx, store.RunItemFilter{RunID: r.ID, Limit: 1000, AfterID: page[99].ID})
	require.NoError(t, err)
	require.Len(t, next, 150)
	require.Equal(t, "100", next[0].HandyID)

	failed, err := s.ListRunItems(ctx, store.RunItemFilter{RunID: r.ID, Outcome: store.OutcomeFailed, Entity: store.EntitySale, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, failed, 25)
	none, err := s.ListRunItems(ctx, store.RunItemFilter{RunID: r.ID, Entity: store.EntityProduct, Limit: 1000})
	require.NoError(t, err)
	require.Empty(t, none)
}

func testLinks(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	require.NoError(t, s.CreateConnection(ctx, c))

	_, err := s.GetLink(ctx, c.ID, store.EntitySale, "42")
	requireKind(t, err, errs.KindNotFound)

	l := &store.Link{ConnectionID: c.ID, Entity: store.EntitySale, HandyID: "42", State: store.LinkPending, PayloadDigest: "d1", MappingVersion: "v1"}
	require.NoError(t, s.PutLink(ctx, l))
	created := l.CreatedAt
	require.False(t, created.IsZero())

	time.Sleep(2 * time.Millisecond)
	l2 := &store.Link{ConnectionID: c.ID, Entity: store.EntitySale, HandyID: "42", BindID: "guid-1", BindExtra: "addr-1", State: store.LinkConfirmed, PayloadDigest: "d1", MappingVersion: "v1"}
	require.NoError(t, s.PutLink(ctx, l2))
	require.Equal(t, created, l2.CreatedAt, "an upsert keeps the first insert's time")
	require.True(t, l2.UpdatedAt.After(created))

	got, err := s.GetLink(ctx, c.ID, store.EntitySale, "42")
	require.NoError(t, err)
	require.Equal(t, l2, got)
	byBind, err := s.FindLinkByBindID(ctx, c.ID, store.EntitySale, "guid-1")
	require.NoError(t, err)
	require.Equal(t, "42", byBind.HandyID)
	_, err = s.FindLinkByBindID(ctx, c.ID, store.EntityCustomer, "guid-1")
	requireKind(t, err, errs.KindNotFound)

	orphan := &store.Link{ConnectionID: newID(t), Entity: store.EntitySale, HandyID: "1", State: store.LinkPending}
	requireKind(t, s.PutLink(ctx, orphan), errs.KindNotFound)

	// The most recently sent ones first, of one entity and state only.
	for _, id := range []string{"43", "44", "45"} {
		time.Sleep(2 * time.Millisecond)
		require.NoError(t, s.PutLink(ctx, &store.Link{ConnectionID: c.ID, Entity: store.EntitySale, HandyID: id, BindID: "g" + id, State: store.LinkConfirmed}))
	}
	require.NoError(t, s.PutLink(ctx, &store.Link{ConnectionID: c.ID, Entity: store.EntitySale, HandyID: "46", State: store.LinkPending}))
	require.NoError(t, s.PutLink(ctx, &store.Link{ConnectionID: c.ID, Entity: store.EntityCustomer, HandyID: "47", BindID: "c", State: store.LinkConfirmed}))
	recent, err := s.RecentLinks(ctx, c.ID, store.EntitySale, store.LinkConfirmed, 3)
	require.NoError(t, err)
	var ids []string
	for _, l := range recent {
		ids = append(ids, l.HandyID)
	}
	require.Equal(t, []string{"45", "44", "43"}, ids)

	// Many at once: an upsert that keeps the first insert's time, and a lookup of the ones that
	// exist.
	require.NoError(t, s.PutLinks(ctx,
		&store.Link{ConnectionID: c.ID, Entity: store.EntitySale, HandyID: "46", BindID: "g46", State: store.LinkConfirmed},
		&store.Link{ConnectionID: c.ID, Entity: store.EntitySale, HandyID: "48", BindID: "g48", State: store.LinkConfirmed, MappingVersion: "v2"}))
	got46, err := s.GetLink(ctx, c.ID, store.EntitySale, "46")
	require.NoError(t, err)
	require.Equal(t, store.LinkConfirmed, got46.State)
	require.Equal(t, "g46", got46.BindID)
	require.True(t, got46.UpdatedAt.After(got46.CreatedAt) || got46.UpdatedAt.Equal(got46.CreatedAt))
	found, err := s.GetLinks(ctx, c.ID, store.EntitySale, []string{"42", "48", "99", "47"})
	require.NoError(t, err)
	require.Len(t, found, 2, "47 is a customer's")
	require.Equal(t, "guid-1", found["42"].BindID)
	require.Equal(t, "v2", found["48"].MappingVersion)
	requireKind(t, s.PutLinks(ctx, &store.Link{ConnectionID: newID(t), Entity: store.EntitySale, HandyID: "1", State: store.LinkPending}), errs.KindNotFound)

	// Only pending links are taken back.
	require.NoError(t, s.PutLinks(ctx, &store.Link{ConnectionID: c.ID, Entity: store.EntitySale, HandyID: "49", State: store.LinkPending}))
	require.NoError(t, s.DeletePendingLinks(ctx, c.ID, store.EntitySale, "49", "48", "50"))
	found, err = s.GetLinks(ctx, c.ID, store.EntitySale, []string{"48", "49"})
	require.NoError(t, err)
	require.Contains(t, found, "48", "a confirmed link stays")
	require.NotContains(t, found, "49")
}

func testTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Store) error {
		require.NoError(t, tx.CreateConnection(ctx, c))
		_, err := tx.GetConnection(ctx, c.ID)
		require.NoError(t, err, "a transaction sees its own writes")
		return boom
	})
	require.ErrorIs(t, err, boom)
	_, err = s.GetConnection(ctx, c.ID)
	requireKind(t, err, errs.KindNotFound)

	require.NoError(t, s.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateConnection(ctx, c); err != nil {
			return err
		}
		_, err := tx.UpdateConnection(ctx, c.ID, func(u *store.Connection) error {
			u.State = store.ConnectionActive
			return nil
		})
		return err
	}))
	got, err := s.GetConnection(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, store.ConnectionActive, got.State)
}

func testSyncState(t *testing.T, s store.Store) {
	ctx := context.Background()
	c := sampleConnection(t)
	require.NoError(t, s.CreateConnection(ctx, c))

	_, ok, err := s.GetCursor(ctx, c.ID, store.SyncSales)
	require.NoError(t, err)
	require.False(t, ok)
	pos := time.Date(2026, 3, 2, 18, 0, 0, 123456000, time.UTC)
	require.NoError(t, s.PutCursor(ctx, c.ID, store.SyncSales, pos))
	require.NoError(t, s.PutCursor(ctx, c.ID, store.SyncSales, pos.Add(time.Hour)))
	got, ok, err := s.GetCursor(ctx, c.ID, store.SyncSales)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, pos.Add(time.Hour), got)
	_, ok, err = s.GetCursor(ctx, c.ID, store.SyncDeletedSales)
	require.NoError(t, err)
	require.False(t, ok, "cursors are per kind")

	first, err := s.PutPendingSale(ctx, c.ID, "101", "product P-9 is not in Bind")
	require.NoError(t, err)
	require.Equal(t, 1, first.Attempts)
	_, err = s.PutPendingSale(ctx, c.ID, "102", "warehouse Norte is not in Bind")
	require.NoError(t, err)
	again, err := s.PutPendingSale(ctx, c.ID, "101", "product P-9 is still not in Bind")
	require.NoError(t, err)
	require.Equal(t, 2, again.Attempts, "the stored record comes back, attempts counted")
	require.Equal(t, first.CreatedAt, again.CreatedAt, "waiting since the first attempt")
	require.Equal(t, "product P-9 is still not in Bind", again.Reason)
	pending, err := s.ListPendingSales(ctx, c.ID, 10)
	require.NoError(t, err)
	require.Len(t, pending, 2)
	require.Equal(t, "101", pending[0].HandyID)
	require.Equal(t, 2, pending[0].Attempts)
	require.Equal(t, "product P-9 is still not in Bind", pending[0].Reason)
	require.NoError(t, s.DeletePendingSale(ctx, c.ID, "101"))
	require.NoError(t, s.DeletePendingSale(ctx, c.ID, "101"), "deleting twice is harmless")
	pending, err = s.ListPendingSales(ctx, c.ID, 10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	for _, id := range []string{"201", "202", "203"} {
		_, err := s.PutPendingSale(ctx, c.ID, id, "waiting")
		require.NoError(t, err)
	}
	require.NoError(t, s.DeletePendingSales(ctx, c.ID, "201", "203", "999"))
	pending, err = s.ListPendingSales(ctx, c.ID, 10)
	require.NoError(t, err)
	var left []string
	for _, p := range pending {
		left = append(left, p.HandyID)
	}
	require.ElementsMatch(t, []string{pending[0].HandyID, "202"}, left)
	require.Len(t, left, 2)
}

func testConnectionTenants(t *testing.T, s store.Store) {
	ctx := context.Background()
	var acme, globex []string
	for i := range 4 {
		c := sampleConnection(t)
		if i%2 == 0 {
			c.Tenant = "globex"
			globex = append(globex, c.ID)
		} else {
			acme = append(acme, c.ID)
		}
		require.NoError(t, s.CreateConnection(ctx, c))
	}
	got, err := s.ListConnections(ctx, store.ConnectionFilter{Tenant: "acme", Limit: 10})
	require.NoError(t, err)
	require.Equal(t, acme, connIDs(got))
	got, err = s.ListConnections(ctx, store.ConnectionFilter{Tenant: "globex", Limit: 1, AfterID: globex[0]})
	require.NoError(t, err)
	require.Equal(t, globex[1:], connIDs(got))

	// The tenant is part of the record's identity: an update cannot move it.
	updated, err := s.UpdateConnection(ctx, acme[0], func(c *store.Connection) error {
		c.Tenant = "globex"
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "acme", updated.Tenant)
	stored, err := s.GetConnection(ctx, acme[0])
	require.NoError(t, err)
	require.Equal(t, "acme", stored.Tenant)
}

func testKeys(t *testing.T, s store.Store) {
	ctx := context.Background()
	expires := time.Date(2027, 1, 2, 3, 4, 5, 6000, time.UTC)
	partner := &store.APIKey{ID: "hbk_a1", Name: "acme implementer", Role: store.RolePartner, Tenant: "acme",
		SecretHash: []byte{1, 2, 3}, CertCN: "acme-backend", ExpiresAt: expires}
	require.NoError(t, s.CreateKey(ctx, partner))
	require.False(t, partner.CreatedAt.IsZero())
	platform := &store.APIKey{ID: "hbk_b2", Role: store.RolePlatform, SecretHash: []byte{4}}
	require.NoError(t, s.CreateKey(ctx, platform))

	got, err := s.GetKey(ctx, "hbk_a1")
	require.NoError(t, err)
	require.Equal(t, partner, got)
	_, err = s.GetKey(ctx, "hbk_zz")
	requireKind(t, err, errs.KindNotFound)
	requireKind(t, s.CreateKey(ctx, &store.APIKey{ID: "hbk_a1", Role: store.RolePlatform, SecretHash: []byte{5}}), errs.KindConflict)
	// One certificate name maps to at most one live key.
	requireKind(t, s.CreateKey(ctx, &store.APIKey{ID: "hbk_c3", Role: store.RolePlatform, SecretHash: []byte{5}, CertCN: "acme-backend"}), errs.KindConflict)

	byCert, err := s.GetKeyByCertCN(ctx, "acme-backend")
	require.NoError(t, err)
	require.Equal(t, "hbk_a1", byCert.ID)
	_, err = s.GetKeyByCertCN(ctx, "")
	requireKind(t, err, errs.KindNotFound)

	revoked, err := s.RevokeKey(ctx, "hbk_a1")
	require.NoError(t, err)
	require.False(t, revoked.RevokedAt.IsZero())
	again, err := s.RevokeKey(ctx, "hbk_a1")
	require.NoError(t, err)
	require.Equal(t, revoked.RevokedAt, again.RevokedAt, "revoking twice keeps the first time")
	_, err = s.RevokeKey(ctx, "hbk_zz")
	requireKind(t, err, errs.KindNotFound)
	_, err = s.GetKeyByCertCN(ctx, "acme-backend")
	requireKind(t, err, errs.KindNotFound)
	// A revoked key's certificate name can be given to a new key.
	require.NoError(t, s.CreateKey(ctx, &store.APIKey{ID: "hbk_c3", Role: store.RolePlatform, SecretHash: []byte{5}, CertCN: "acme-backend"}))

	live, err := s.ListKeys(ctx, store.KeyFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, live, 2)
	require.Equal(t, "hbk_b2", live[0].ID)
	all, err := s.ListKeys(ctx, store.KeyFilter{Limit: 10, IncludeRevoked: true})
	require.NoError(t, err)
	require.Len(t, all, 3)
	page, err := s.ListKeys(ctx, store.KeyFilter{Limit: 10, IncludeRevoked: true, AfterID: "hbk_a1"})
	require.NoError(t, err)
	require.Len(t, page, 2)
}

func testAudit(t *testing.T, s store.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 4 {
		tenant := "acme"
		if i == 2 {
			tenant = "globex"
		}
		e := &store.AuditEvent{ID: newID(t), KeyID: "hbk_a1", Role: store.RolePartner, Tenant: tenant,
			Method: "/handybind.v1.ConnectionService/DeleteConnection", Resource: fmt.Sprintf("connections/%d", i), Outcome: "OK"}
		require.NoError(t, s.AppendAudit(ctx, e))
		require.False(t, e.Time.IsZero())
		ids = append(ids, e.ID)
	}
	got, err := s.ListAudit(ctx, store.AuditFilter{Limit: 10})
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Equal(t, ids[3], got[0].ID, "newest first")
	acme, err := s.ListAudit(ctx, store.AuditFilter{Tenant: "acme", Limit: 2})
	require.NoError(t, err)
	require.Equal(t, []string{ids[3], ids[1]}, []string{acme[0].ID, acme[1].ID})
	rest, err := s.ListAudit(ctx, store.AuditFilter{Tenant: "acme", Limit: 2, BeforeID: acme[1].ID})
	require.NoError(t, err)
	require.Len(t, rest, 1)
	require.Equal(t, ids[0], rest[0].ID)
	require.Equal(t, "connections/0", rest[0].Resource)
	require.Equal(t, store.RolePartner, rest[0].Role)
}

func mappingVersion(t *testing.T, tenant string, n int) *store.MappingVersion {
	return &store.MappingVersion{ID: newID(t), Name: "handy-bind", Number: n, Tenant: tenant,
		Source: fmt.Sprintf("name: handy-bind\nversion: v%d\n", n), Checksum: fmt.Sprintf("sum%d", n), AuthorKeyID: "hbk_author"}
}

func testMappingVersions(t *testing.T, s store.Store) {
	ctx := context.Background()
	const builtIn = 2
	highest, err := s.MaxMappingVersion(ctx, "handy-bind", "acme")
	require.NoError(t, err)
	require.Zero(t, highest)

	// A tenant's first version comes after the built-in ones; a wrong number is a conflict.
	requireKind(t, s.PublishMappingVersion(ctx, mappingVersion(t, "acme", 4), builtIn), errs.KindConflict)
	acme3 := mappingVersion(t, "acme", 3)
	require.NoError(t, s.PublishMappingVersion(ctx, acme3, builtIn))
	require.False(t, acme3.CreatedAt.IsZero())
	// Another tenant numbers on its own: it does not see acme's v3.
	globex3 := mappingVersion(t, "globex", 3)
	require.NoError(t, s.PublishMappingVersion(ctx, globex3, builtIn))
	// A global version comes after every tenant's, so it never shadows one.
	requireKind(t, s.PublishMappingVersion(ctx, mappingVersion(t, "", 3), builtIn), errs.KindConflict)
	global4 := mappingVersion(t, "", 4)
	require.NoError(t, s.PublishMappingVersion(ctx, global4, builtIn))
	highest, err = s.MaxMappingVersion(ctx, "handy-bind", "acme")
	require.NoError(t, err)
	require.Equal(t, 4, highest, "acme sees its v3 and the global v4")
	highest, err = s.MaxMappingVersion(ctx, "other-family", "acme")
	require.NoError(t, err)
	require.Zero(t, highest)

	got, err := s.GetMappingVersions(ctx, []string{acme3.ID, global4.ID})
	require.NoError(t, err)
	require.Len(t, got, 2)
	byID := map[string]*store.MappingVersion{got[0].ID: got[0], got[1].ID: got[1]}
	require.Equal(t, acme3.Source, byID[acme3.ID].Source)
	require.Equal(t, "acme", byID[acme3.ID].Tenant)
	require.Equal(t, "", byID[global4.ID].Tenant)
	require.Equal(t, acme3.CreatedAt, byID[acme3.ID].CreatedAt)

	stamps, err := s.MappingVersionStamps(ctx)
	require.NoError(t, err)
	require.Len(t, stamps, 3)
	before := map[string]time.Time{}
	for _, st := range stamps {
		before[st.ID] = st.UpdatedAt
	}

	// Deleting keeps the row and its number, and moves its stamp.
	time.Sleep(2 * time.Millisecond)
	deleted, err := s.DeleteMappingVersion(ctx, acme3.ID)
	require.NoError(t, err)
	require.False(t, deleted.DeletedAt.IsZero())
	again, err := s.DeleteMappingVersion(ctx, acme3.ID)
	require.NoError(t, err)
	require.Equal(t, deleted.DeletedAt, again.DeletedAt, "the first mark stays")
	stamps, err = s.MappingVersionStamps(ctx)
	require.NoError(t, err)
	for _, st := range stamps {
		if st.ID == acme3.ID {
			require.True(t, st.UpdatedAt.After(before[st.ID]))
		} else {
			require.Equal(t, before[st.ID], st.UpdatedAt)
		}
	}
	requireKind(t, s.PublishMappingVersion(ctx, mappingVersion(t, "acme", 3), builtIn), errs.KindConflict)
	dep, err := s.DeprecateMappingVersion(ctx, global4.ID)
	require.NoError(t, err)
	require.False(t, dep.DeprecatedAt.IsZero())
	require.True(t, dep.DeletedAt.IsZero())
	_, err = s.DeprecateMappingVersion(ctx, newID(t))
	requireKind(t, err, errs.KindNotFound)

	// Connections pinned to a version, per tenant or all.
	c1 := sampleConnection(t)
	c1.MappingVersion = "v4"
	require.NoError(t, s.CreateConnection(ctx, c1))
	c2 := sampleConnection(t)
	c2.Tenant, c2.MappingVersion = "globex", "v4"
	require.NoError(t, s.CreateConnection(ctx, c2))
	ids, err := s.ConnectionsUsingMapping(ctx, "acme", "v4")
	require.NoError(t, err)
	require.Equal(t, []string{c1.ID}, ids)
	ids, err = s.ConnectionsUsingMapping(ctx, "", "v4")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{c1.ID, c2.ID}, ids)
	ids, err = s.ConnectionsUsingMapping(ctx, "", "v9")
	require.NoError(t, err)
	require.Empty(t, ids)
}

// testMappingVersionsConcurrentPublish: tenants and the platform publishing at once never get
// one number twice where a tenant would see both.
func testMappingVersionsConcurrentPublish(t *testing.T, s store.Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, tenant := range []string{"", "acme", "", "acme"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				for {
					highest, err := s.MaxMappingVersion(ctx, "handy-bind", tenant)
					require.NoError(t, err)
					err = s.PublishMappingVersion(ctx, mappingVersion(t, tenant, max(highest, 2)+1), 2)
					if errs.KindOf(err) == errs.KindConflict {
						continue
					}
					require.NoError(t, err)
					break
				}
			}
		}()
	}
	wg.Wait()
	stamps, err := s.MappingVersionStamps(ctx)
	require.NoError(t, err)
	ids := make([]string, len(stamps))
	for i, st := range stamps {
		ids[i] = st.ID
	}
	all, err := s.GetMappingVersions(ctx, ids)
	require.NoError(t, err)
	require.Len(t, all, 20)
	seen := map[int]bool{}
	for _, v := range all {
		require.False(t, seen[v.Number], "v%d given twice to versions acme sees", v.Number)
		seen[v.Number] = true
	}
}

// LockConnection holds the row to the end of the transaction, one holder at a time, and writes
// nothing: the update time stays.
func testConnectionLock(t *testing.T, s store.Store) {
	ctx := context.Background()
	requireKind(t, s.Tx(ctx, func(tx store.Store) error { return tx.LockConnection(ctx, newID(t)) }), errs.KindNotFound)
	c := sampleConnection(t)
	require.NoError(t, s.CreateConnection(ctx, c))
	before, err := s.GetConnection(ctx, c.ID)
	require.NoError(t, err)

	var mu sync.Mutex
	var holding, most int
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, s.Tx(ctx, func(tx store.Store) error {
				if err := tx.LockConnection(ctx, c.ID); err != nil {
					return err
				}
				mu.Lock()
				holding++
				most = max(most, holding)
				mu.Unlock()
				time.Sleep(50 * time.Millisecond)
				mu.Lock()
				holding--
				mu.Unlock()
				return nil
			}))
		}()
	}
	wg.Wait()
	require.Equal(t, 1, most, "one holder at a time")
	after, err := s.GetConnection(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, before.UpdatedAt, after.UpdatedAt)
}
