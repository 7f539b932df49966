package syncer_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/syncer"
	"github.com/handybind/handybind/internal/testdb"
)

// world is a Handy account and a Bind company behind real HTTP servers, a database, and an engine
// with one connection between them.
type world struct {
	t         testing.TB
	handy     *handysim.Sim
	bind      *bindsim.Sim
	store     store.Store
	db        *sqlstore.DB
	engine    *syncer.Engine
	conns     *connection.Service
	conn      *store.Connection
	beto, ana handy.User // Beto has a warehouse in extras, Ana has none
	norte     string     // Bind warehouse "Almacén Norte"
	matriz    string     // Bind warehouse "Almacén Matriz"
	general   string     // Bind price list
	// ahead moves the engine's clock forward (nanoseconds), for tests that need time to pass.
	ahead atomic.Int64
	deps  syncer.Deps // what engine was built with
}

// newEngine is another engine on the same world (another process, or this one restarted), with
// its dependencies changed by change.
func (w *world) newEngine(change func(*syncer.Deps)) *syncer.Engine {
	d := w.deps
	change(&d)
	return syncer.New(d)
}

const (
	handyToken = "handy-secret-token"
	bindToken  = "bind-secret-key"
)

// backends runs fn on SQLite and on PostgreSQL, each with a fresh database.
func backends(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, testdb.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, testdb.Postgres(t)) })
}

// roundingEnv chooses how the simulated Bind rounds order totals for the whole suite (the real
// rule is unpublished): "once" (the default) or "subtotal-first". CI runs the suite under both.
const roundingEnv = "HANDYBIND_TEST_BIND_ROUNDING"

func newWorld(t testing.TB, dbURL string, opts ...bindsim.Option) *world {
	t.Helper()
	ctx := context.Background()
	switch mode := os.Getenv(roundingEnv); mode {
	case "", "once":
	case "subtotal-first":
		opts = append([]bindsim.Option{bindsim.WithRounding(bindsim.RoundSubtotalFirst)}, opts...)
	default:
		t.Fatalf("%s=%q: want once or subtotal-first", roundingEnv, mode)
	}
	w := &world{t: t, handy: handysim.New(nil), bind: bindsim.New(opts...)}

	w.bind.AddToken(bindToken, bind.UserProfile{Name: "Ana Admin", Username: "admin", Email: "admin@example.com", CompanyName: "Distribuidora del Norte"})
	w.general = w.bind.AddPriceList("Lista General")
	w.bind.AddPriceList("Mayoreo")
	w.bind.AddCurrency("MXN", "Peso mexicano")
	matrizLoc := w.bind.AddLocation("Matriz")
	w.matriz = w.bind.AddWarehouse("Almacén Matriz", matrizLoc)
	w.norte = w.bind.AddWarehouse("Almacén Norte", w.bind.AddLocation("Sucursal Norte"))
	w.bind.AddAccount("105-01-001", "Clientes nacionales")
	w.bind.AddAccount("105-01-002", "Clientes mostrador")

	w.handy.AddToken(handyToken)
	w.beto = w.handy.AddUser(handy.User{Name: "Beto Ventas", Username: "beto@example.com", Enabled: true, Extras: "Almacén Norte"})
	w.ana = w.handy.AddUser(handy.User{Name: "Ana Ruta", Username: "ana@example.com", Enabled: true})
	w.handy.AddCustomer(handy.Customer{Code: "C-1", Description: "Abarrotes Lupita", RFC: "LULA800101AB1", City: "Monterrey"})
	w.handy.AddCustomer(handy.Customer{Code: "C-2", Description: "Tienda Don Pepe"})
	at := time.Now().UTC().Add(-24 * time.Hour)
	w.handy.AddProduct("E-001", "Escoba", money.MustParse("836.21"), handysim.IVA(16), at)
	w.handy.AddProduct("L-001", "Leche entera 1L", money.MustParse("24.1379"), handysim.IVA(16), at)
	w.handy.AddProduct("M-001", "Mueble", money.MustParse("1750"), handysim.IVA(8), at)

	hs := httptest.NewServer(w.handy)
	bs := httptest.NewServer(w.bind)
	t.Cleanup(hs.Close)
	t.Cleanup(bs.Close)

	db, err := sqlstore.Open(ctx, dbURL, nil)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	_, err = db.Migrate(ctx, nil)
	require.NoError(t, err)
	w.store, w.db = sqlstore.New(db), db
	keys, err := secret.NewKeyring(secret.Key{ID: "k1", Bytes: bytes.Repeat([]byte{3}, secret.KeySize)})
	require.NoError(t, err)
	reg, err := mapping.NewRegistry("../../mappings", nil)
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	w.conns = connection.NewService(w.store, keys, log, versions{reg}, nil)
	w.deps = syncer.Deps{
		Store: w.store, Keys: keys, Mappings: reg, Log: log,
		Now: func() time.Time { return time.Now().Add(time.Duration(w.ahead.Load())) },
		BindOptions: func(o *bind.Options) {
			o.RequestsPerSecond, o.Burst, o.RetryBase, o.RetryMax, o.AttemptTimeout = 10000, 100, time.Millisecond, 5*time.Millisecond, 2*time.Second
		},
		HandyOptions: func(o *handy.Options) { o.RetryBase, o.RetryMax = time.Millisecond, 5*time.Millisecond },
	}
	w.engine = syncer.New(w.deps)
	c, err := w.conns.Create(ctx, "acme", connection.Input{
		DisplayName: "Distribuidora del Norte", HandyBaseURL: hs.URL + "/api/v2", HandyToken: handyToken,
		BindBaseURL: bs.URL, BindUserName: "admin", BindToken: bindToken,
		Settings: store.Settings{PriceList: "Lista General", Currency: "MXN", Warehouse: "Almacén Matriz", LedgerAccount: "105-01-001"},
	})
	require.NoError(t, err)
	w.conn = c
	return w
}

type versions struct{ reg *mapping.Registry }

func (v versions) CheckPin(_, version string) error {
	if _, ok := v.reg.Get("handy-bind", version); !ok {
		return fmt.Errorf("no version %s", version)
	}
	return nil
}
func (v versions) Latest() string {
	m, _ := v.reg.Latest("handy-bind")
	return m.Version
}

func (w *world) activate() {
	w.t.Helper()
	c, err := w.engine.Activate(context.Background(), w.conn.ID, nil)
	require.NoError(w.t, err)
	w.conn = c
}

func (w *world) run(kind store.SyncKind) *store.Run {
	w.t.Helper()
	r, err := w.engine.Run(context.Background(), w.conn.ID, kind, store.TriggerManual)
	require.NoError(w.t, err)
	return r
}

func (w *world) items(r *store.Run) []*store.RunItem {
	w.t.Helper()
	items, err := w.store.ListRunItems(context.Background(), store.RunItemFilter{RunID: r.ID, Limit: 10000})
	require.NoError(w.t, err)
	return items
}

// sale creates a sale in Handy a minute ago.
func (w *world) sale(customer string, seller handy.User, lines ...handysim.Line) handy.SalesOrder {
	w.t.Helper()
	o, err := w.handy.CreateSale(handysim.Sale{Customer: customer, Seller: seller.ID, At: time.Now().UTC().Add(-time.Minute), Lines: lines})
	require.NoError(w.t, err)
	return o
}

func line(code string, qty int64) handysim.Line {
	return handysim.Line{Product: code, Quantity: money.NewFromInt(qty)}
}

// orderOf returns the Bind order sent for a Handy sale, checking there is exactly one.
func (w *world) orderOf(sale handy.SalesOrder) bind.OrderDetails {
	w.t.Helper()
	var found []bind.OrderDetails
	for _, o := range w.bind.Orders() {
		if o.PurchaseOrder == strconv.FormatInt(sale.ID, 10) && o.StatusCode != bind.OrderCancelled {
			found = append(found, o)
		}
	}
	require.Len(w.t, found, 1, "sale %d must be in Bind exactly once", sale.ID)
	return found[0]
}

// requireTotalsMatch is the invariant checked in every sales test: each Bind order's total equals
// its Handy sale's totalSales to the cent.
func (w *world) requireTotalsMatch() {
	w.t.Helper()
	sales := map[string]handy.SalesOrder{}
	for _, s := range w.handy.Orders() {
		sales[strconv.FormatInt(s.ID, 10)] = s
	}
	for _, o := range w.bind.Orders() {
		s, ok := sales[o.PurchaseOrder]
		require.True(w.t, ok, "Bind order %s has no Handy sale", o.PurchaseOrder)
		require.True(w.t, o.Total.Equal(s.TotalSales), "sale %s: Bind total %s, Handy totalSales %s", o.PurchaseOrder, o.Total, s.TotalSales)
	}
}

func outcomes(items []*store.RunItem) map[string]string {
	out := map[string]string{}
	for _, it := range items {
		out[fmt.Sprintf("%s %s", it.Entity, it.HandyID)] = string(it.Outcome)
	}
	return out
}

func handysimSale(customer string, seller handy.User, lines ...handysim.Line) handysim.Sale {
	return handysim.Sale{Customer: customer, Seller: seller.ID, At: time.Now().UTC().Add(-30 * time.Second), Lines: lines}
}
