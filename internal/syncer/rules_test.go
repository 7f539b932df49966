package syncer_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/store"
)

// TestA1ActivationResolvesNamesAndRefusesUnknownOnes: activation needs both tokens, the Bind user
// the key belongs to, and every setting's name; each unresolved one is named with the valid names.
// Mutations that make it fail: skipping the user-name comparison; resolving the warehouse by id
// instead of name; enqueuing the first product sync outside the activation's transaction.
func TestA1ActivationResolvesNamesAndRefusesUnknownOnes(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		ctx := context.Background()

		// The Bind user must be the key's own.
		for _, name := range []string{"", "otro@example.com"} {
			_, err := w.conns.Update(ctx, w.conn.ID, connection.Input{BindUserName: name}, []string{connection.FieldBindUserName})
			require.NoError(t, err)
			_, err = w.engine.Activate(ctx, w.conn.ID, nil)
			require.True(t, errs.Is(err, errs.KindFailedPrecondition), "%q: %v", name, err)
			require.ErrorContains(t, err, "bind.user_name")
			require.ErrorContains(t, err, `user "admin", admin@example.com`)
		}
		// By login or by email, in any case.
		_, err := w.conns.Update(ctx, w.conn.ID, connection.Input{BindUserName: "ADMIN@example.com"}, []string{connection.FieldBindUserName})
		require.NoError(t, err)

		// Names that do not resolve: every problem at once, with the valid names.
		_, err = w.conns.Update(ctx, w.conn.ID, connection.Input{Settings: store.Settings{PriceList: "Lista Vieja", Warehouse: "Bodega"}},
			[]string{connection.FieldPriceList, connection.FieldWarehouse})
		require.NoError(t, err)
		_, err = w.engine.Activate(ctx, w.conn.ID, nil)
		require.True(t, errs.Is(err, errs.KindFailedPrecondition), "%v", err)
		require.ErrorContains(t, err, `settings.price_list "Lista Vieja" is not in Bind; the valid names are "Lista General", "Mayoreo"`)
		require.ErrorContains(t, err, `settings.warehouse "Bodega" is not in Bind; the valid names are "Almacén Matriz", "Almacén Norte"`)
		c, err := w.store.GetConnection(ctx, w.conn.ID)
		require.NoError(t, err)
		require.Equal(t, store.ConnectionDraft, c.State)

		// A bad token: the error names the system that refused it.
		_, err = w.conns.Update(ctx, w.conn.ID, connection.Input{BindToken: "wrong", Settings: store.Settings{PriceList: "Lista General", Warehouse: "Almacén Matriz"}},
			[]string{connection.FieldBindToken, connection.FieldPriceList, connection.FieldWarehouse})
		require.NoError(t, err)
		_, err = w.engine.Activate(ctx, w.conn.ID, nil)
		require.ErrorContains(t, err, "Bind rejected the API key")
		require.NotContains(t, err.Error(), "wrong")

		_, err = w.conns.Update(ctx, w.conn.ID, connection.Input{BindToken: bindToken, HandyToken: "revoked"}, []string{connection.FieldBindToken, connection.FieldHandyToken})
		require.NoError(t, err)
		_, err = w.engine.Activate(ctx, w.conn.ID, nil)
		require.ErrorContains(t, err, "Handy rejected the API token")

		_, err = w.conns.Update(ctx, w.conn.ID, connection.Input{HandyToken: handyToken}, []string{connection.FieldHandyToken})
		require.NoError(t, err)
		enqueued := false
		c, err = w.engine.Activate(ctx, w.conn.ID, func(ctx context.Context, tx store.Store, c *store.Connection) error {
			enqueued = c.State == store.ConnectionActive
			return nil
		})
		require.NoError(t, err)
		require.True(t, enqueued, "the initial product sync is enqueued with the state change")
		require.Equal(t, store.ConnectionActive, c.State)
		require.Equal(t, w.general, c.Resolved.PriceListID)
		require.Equal(t, bindsim.MXN, c.Resolved.CurrencyID)
		require.Equal(t, w.matriz, c.Resolved.WarehouseID)
		require.NotEmpty(t, c.Resolved.LocationID)
		require.NotEmpty(t, c.Resolved.AccountID)
	})
}

// Mutation that makes it fail (checked): a product sync that stops after the first Handy product.
func TestP1ActivationCopiesEveryProduct(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		r := w.run(store.SyncProducts)
		require.Equal(t, store.RunSucceeded, r.State, r.Error)
		require.Equal(t, 3, r.Counts.Created)
		require.Len(t, w.bind.Products(), 3)

		// Running again changes nothing: found by link and code, never duplicated.
		again := w.run(store.SyncProducts)
		require.Equal(t, 0, again.Counts.Created)
		require.Equal(t, 3, again.Counts.Unchanged)
		require.Len(t, w.bind.Products(), 3)
		require.Equal(t, 1, w.bind.Count("GET /api/ProductsPriceAndInventory")-1, "one price read per run")
	})
}

// Mutations that make it fail (checked): the P2 rule Title: product.code in the mapping; an edit
// that sends only the changed title (Bind's PUT replaces the whole product).
func TestP2ProductTitleAndCode(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		titles := map[string]string{}
		for _, p := range w.bind.Products() {
			titles[p.Code] = p.Title
		}
		require.Equal(t, map[string]string{"E-001": "Escoba", "L-001": "Leche entera 1L", "M-001": "Mueble"}, titles)

		// A title changed in Handy is updated in Bind.
		require.NoError(t, w.handy.UpdateProduct("E-001", w.conn.Resolved.ResolvedAt, func(p *handy.Product) { p.Description = "Escoba de mijo" }))
		r := w.run(store.SyncProducts)
		require.Equal(t, 1, r.Counts.Updated)
		for _, p := range w.bind.Products() {
			if p.Code == "E-001" {
				require.Equal(t, "Escoba de mijo", p.Title)
				// A PUT replaces the whole product: the title's edit keeps what it does not change.
				require.True(t, p.ChargeVAT, "the title's edit must not make the product VAT-exempt")
				require.Equal(t, "Pieza", p.Unit)
			}
		}
	})
}

// Mutation that makes it fail (checked): Price: product.basePrice (before taxes) in the P3 rule.
func TestP3PricesAfterTaxesAndDriftReported(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		for _, p := range w.bind.Products() {
			if p.Code == "M-001" {
				require.Equal(t, "1890", p.Prices.Items[0].Price.String(), "1750 + 8%: the price after taxes")
			}
		}
		// Bind's API cannot change a list price: a changed Handy price is reported, not hidden.
		require.NoError(t, w.handy.UpdateProduct("M-001", w.conn.Resolved.ResolvedAt, func(p *handy.Product) { p.BasePrice = money.MustParse("2000") }))
		items := w.items(w.run(store.SyncProducts))
		var reason string
		for _, it := range items {
			if it.HandyID == "M-001" {
				reason = it.Reason
			}
		}
		require.Contains(t, reason, "price differs: Handy's is 2160, Bind's list \"Lista General\" has 1890")
		require.Contains(t, reason, "cannot change list prices")
	})
}

// TestP4InventoryIsNeverTouched: stock is neither written to Bind (its inventory routes are
// merchandise receptions and transfers; an order's Qty is the sale, not stock) nor to Handy, which
// is only ever read. Every write the sync sends must be one of the few it needs.
// Mutations that make it fail: any call to a Bind inventory route (POST
// /api/Inventory/AddMerchandiseReception, /api/NewTransferMerchandise, /api/CompleteTransfer), any
// other write route, or any request to Handy that is not a GET.
func TestP4InventoryIsNeverTouched(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		w.sale("C-1", w.ana, line("E-001", 2))
		w.run(store.SyncSales)
		writes := map[string]bool{
			"POST /api/Products": true, "PUT /api/Products": true, "POST /api/Clients": true, "POST /api/Orders": true,
		}
		sent := 0
		for _, r := range w.bind.Requests() {
			if r.Method == http.MethodGet {
				continue
			}
			sent++
			require.True(t, writes[r.Method+" "+r.Path], "a write the sync has no business sending: %s %s", r.Method, r.Path)
			require.NotContains(t, strings.ToLower(r.Path), "inventory")
			require.NotContains(t, strings.ToLower(r.Path), "merchandise")
		}
		require.NotZero(t, sent, "the sync did write products, a client and an order")
		for _, r := range w.handy.Requests() {
			require.Equal(t, http.MethodGet, r.Method, "Handy is only read: %s %s", r.Method, r.Path)
		}
	})
}

func TestSalesSyncIsIdempotent(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		s1 := w.sale("C-1", w.ana, line("E-001", 3), line("L-001", 12))
		s2 := w.sale("C-2", w.beto, line("L-001", 1))
		r := w.run(store.SyncSales)
		require.Equal(t, store.RunSucceeded, r.State, r.Error)
		require.False(t, r.WindowStart.IsZero())

		o := w.orderOf(s1)                         // S1
		require.Equal(t, w.general, o.PriceListID) // S3
		require.Equal(t, bindsim.MXN, o.CurrencyID)
		require.Equal(t, "Vendedor: Ana Ruta <ana@example.com>", o.Comments) // S4
		require.Len(t, o.Products, 2)
		require.Contains(t, w.orderOf(s2).Comments, "Beto Ventas <beto@example.com>")
		w.requireTotalsMatch()

		// Re-running the window changes nothing.
		again := w.run(store.SyncSales)
		require.Zero(t, again.Counts.Created)
		w.orderOf(s1)
		w.orderOf(s2)
	})
}

// Mutation that makes it fail (checked): sending an order whose products are not all in Bind.
func TestS2OrderWithMissingProductWaitsAndIsRetried(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		w.handy.AddProduct("N-001", "Producto nuevo", money.MustParse("100"), handysim.IVA(16), w.conn.Resolved.ResolvedAt)
		s := w.sale("C-1", w.ana, line("E-001", 1), line("N-001", 1))

		r := w.run(store.SyncSales)
		require.Equal(t, store.RunSucceeded, r.State, "a waiting sale is not a failure")
		require.Equal(t, 1, r.Counts.Waiting)
		var reason string
		for _, it := range w.items(r) {
			if it.Entity == store.EntitySale {
				reason = it.Reason
			}
		}
		require.Contains(t, reason, "product(s) not in Bind: N-001 (Producto nuevo)")
		require.Empty(t, w.bind.Orders(), "the sale is not sent")

		// Later runs retry it; after the next product sync it goes through, once.
		second := w.run(store.SyncSales)
		require.Empty(t, w.bind.Orders())
		require.Equal(t, store.RunSucceeded, second.State)
		require.Equal(t, "waiting", outcomes(w.items(second))["sale "+strconv.FormatInt(s.ID, 10)])
		require.Contains(t, outcomesReasons(w.items(second)), "tried 2 time(s)", "each waiting sale says how often it was tried")
		require.Contains(t, outcomesReasons(w.items(second)), "waiting since ")
		w.run(store.SyncProducts)
		r = w.run(store.SyncSales)
		require.Equal(t, "created", outcomes(w.items(r))["sale "+strconv.FormatInt(s.ID, 10)])
		w.orderOf(s)
		w.requireTotalsMatch()
	})
}

// TestS5OrdersAreCapturedByTheKeysUser: Bind records the key's user as the order's employee, and
// nothing may override it. NewOrder has no field for an employee; the simulator refuses any
// property its schema does not name (and the contract test any the definition does not), so a
// client that tried to send one (EmployeeID, SalesEmployeeID on the order) fails every sales test.
// Mutations that make it fail: adding an employee field to bind.NewOrder (checked: the simulator
// refuses the order); taking the user id from anything but the key's profile at activation.
func TestS5OrdersAreCapturedByTheKeysUser(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		s := w.sale("C-1", w.beto, line("E-001", 1))
		w.run(store.SyncSales)
		require.Equal(t, w.conn.Resolved.UserID, w.orderOf(s).EmployeeID)
		w.requireTotalsMatch()
	})
}

func TestCustomersAcrossSeveralOrders(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		require.Empty(t, w.bind.Clients(), "C1: no customer is created before an order needs it")

		w.sale("C-1", w.ana, line("E-001", 1))
		w.sale("C-2", w.ana, line("E-001", 1))
		w.sale("C-2", w.ana, line("L-001", 1))
		w.run(store.SyncSales)
		clients := w.bind.Clients()
		require.Len(t, clients, 2, "one client per customer, reused by later orders")
		byName := map[string]bind.ClientDetails{}
		for _, c := range clients {
			byName[c.CommercialName] = c
		}
		pepe := byName["Tienda Don Pepe"]
		require.Equal(t, "Tienda Don Pepe", pepe.LegalName) // C3
		require.Equal(t, "XAXX010101000", pepe.RFC)         // C4
		require.Equal(t, "LULA800101AB1", byName["Abarrotes Lupita"].RFC)
		require.Equal(t, w.general, pepe.PriceListID) // C5
		require.Equal(t, "105-01-001", pepe.Account)
		require.NotEmpty(t, pepe.Addresses)
		w.requireTotalsMatch()
	})
}

func TestC2CustomerFoundByDescriptionInBind(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		// A client that already exists in Bind with the customer's description is used, not duplicated.
		c, err := bind.New(bind.Options{BaseURL: w.conn.BindBaseURL, Token: bindToken})
		require.NoError(t, err)
		id, err := c.CreateClient(context.Background(), bind.NewClient{LegalName: "Tienda Don Pepe SA", CommercialName: "Tienda Don Pepe", RFC: "XAXX010101000",
			PriceListID: w.general, AccountingNumber: "105-01-002", Address: &bind.NewAddress{City: "Saltillo"}})
		require.NoError(t, err)
		s := w.sale("C-2", w.ana, line("E-001", 1))
		w.run(store.SyncSales)
		require.Len(t, w.bind.Clients(), 1)
		require.Equal(t, id, w.orderOf(s).ClientID)
	})
}

// Mutation that makes it fail (checked): Name: connection.warehouse, ignoring seller.extras (W1 rule).
func TestW1WarehousePerSeller(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		fromExtras := w.sale("C-1", w.beto, line("E-001", 1))
		byDefault := w.sale("C-1", w.ana, line("E-001", 1))
		lost := w.handy.AddUser(handy.User{Name: "Carla", Username: "carla@example.com", Enabled: true, Extras: "Bodega Sur"})
		unknown := w.sale("C-1", lost, line("E-001", 1))
		r := w.run(store.SyncSales)

		require.Equal(t, w.norte, w.orderOf(fromExtras).WarehouseID)
		require.Equal(t, "Sucursal Norte", w.orderOf(fromExtras).LocationName, "the location follows the warehouse")
		require.Equal(t, w.matriz, w.orderOf(byDefault).WarehouseID)
		for _, o := range w.bind.Orders() {
			require.NotEqual(t, strconv.FormatInt(unknown.ID, 10), o.PurchaseOrder, "an unknown warehouse never falls back silently")
		}
		var reason string
		for _, it := range w.items(r) {
			if it.HandyID == strconv.FormatInt(unknown.ID, 10) {
				reason = it.Reason
			}
		}
		require.Contains(t, reason, `warehouse "Bodega Sur" (from seller Carla) is not in Bind; the valid names are "Almacén Matriz", "Almacén Norte"`)
		w.requireTotalsMatch()
	})
}

// Mutation that makes it fail (checked): not sending the DELETE (the order stays active).
func TestD1DeletedSalesAreDeletedInBind(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		sent := w.sale("C-1", w.ana, line("E-001", 1))
		w.run(store.SyncSales)
		order := w.orderOf(sent)

		neverSent := w.sale("C-1", w.ana, line("E-001", 1))
		now := time.Now().UTC()
		require.NoError(t, w.handy.DeleteSale(sent.ID, now, w.ana.ID))
		require.NoError(t, w.handy.DeleteSale(neverSent.ID, now, w.ana.ID))
		r := w.run(store.SyncDeletedSales)
		got := outcomes(w.items(r))
		require.Equal(t, "deleted", got["sale "+strconv.FormatInt(sent.ID, 10)])
		require.Equal(t, "skipped", got["sale "+strconv.FormatInt(neverSent.ID, 10)])
		for _, o := range w.bind.Orders() {
			if o.ID == order.ID {
				require.Equal(t, int32(bind.OrderCancelled), o.StatusCode)
			}
		}
		// The deleted sale that was never sent is not sent later either.
		w.run(store.SyncSales)
		for _, o := range w.bind.Orders() {
			require.NotEqual(t, strconv.FormatInt(neverSent.ID, 10), o.PurchaseOrder)
		}
		// Running again changes nothing.
		again := w.run(store.SyncDeletedSales)
		require.Zero(t, again.Counts.Deleted)
	})
}

func TestEditReplacesTheEarlierOrder(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		orig := w.sale("C-1", w.ana, line("E-001", 1))
		w.run(store.SyncSales)
		old := w.orderOf(orig)
		edited, err := w.handy.EditSale(orig.ID, handysimSale("C-1", w.ana, line("E-001", 3)))
		require.NoError(t, err)
		r := w.run(store.SyncSales)
		newOrder := w.orderOf(edited)
		require.NotEqual(t, old.ID, newOrder.ID)
		var linkReason string
		for _, it := range w.items(r) {
			if it.HandyID == strconv.FormatInt(orig.ID, 10) {
				linkReason = it.Reason
				require.Equal(t, store.OutcomeDeleted, it.Outcome)
			}
		}
		require.Contains(t, linkReason, "replaced by sale "+strconv.FormatInt(edited.ID, 10))
		// The deleted-sales stream sees the old version too, and changes nothing more.
		d := w.run(store.SyncDeletedSales)
		require.Zero(t, d.Counts.Deleted)
		w.requireTotalsMatch()
	})
}

// TestLostResponseNeverCreatesASecondOrder: Bind writes are not idempotent. For every way a write
// can land without its answer reaching the sync (the connection dropped, a 5xx after the write, an
// answer slower than the client waits), the order and the customer it needed are in Bind exactly
// once, and the sale is confirmed by looking the order up by PurchaseOrder.
// Mutations that make it fail: retrying a create whose outcome is unknown; skipping the lookup
// before a resend; treating a 5xx after a create as "not created".
func TestLostResponseNeverCreatesASecondOrder(t *testing.T) {
	t.Parallel()
	faults := map[string]bindsim.Fault{
		"connection dropped":   {LoseResponse: true},
		"500 after the write":  {StatusAfterApply: http.StatusInternalServerError},
		"504 after the write":  {StatusAfterApply: http.StatusGatewayTimeout},
		"answer after timeout": {SlowResponse: 3 * time.Second}, // the world's client waits 2 s
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backends(t, func(t *testing.T, dbURL string) {
				w := newWorld(t, dbURL)
				w.activate()
				w.run(store.SyncProducts)
				s := w.sale("C-1", w.ana, line("E-001", 2))
				w.run(store.SyncSales) // C-1 now exists in Bind
				s2 := w.sale("C-1", w.ana, line("L-001", 5))
				s3 := w.sale("C-2", w.ana, line("L-001", 1)) // a customer created under the fault
				w.bind.Inject("POST /api/Orders", fault)
				w.bind.Inject("POST /api/Clients", fault)
				r := w.run(store.SyncSales)
				w.run(store.SyncSales)
				w.orderOf(s)
				w.orderOf(s2) // exactly one each
				w.orderOf(s3)
				require.Len(t, w.bind.Clients(), 2, "no customer created twice")
				w.requireTotalsMatch()
				require.True(t, strings.Contains(outcomesReasons(w.items(r)), "found by PurchaseOrder"), outcomesReasons(w.items(r)))
			})
		})
	}
}

func outcomesReasons(items []*store.RunItem) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(it.Reason + "\n")
	}
	return b.String()
}

func TestSaleWhoseTotalBindCannotMatchIsNotSent(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		// M-001 carries 8% VAT, E-001 16%; a Bind order has one VAT rate.
		s := w.sale("C-1", w.ana, line("M-001", 1), line("E-001", 1))
		r := w.run(store.SyncSales)
		require.Equal(t, store.RunSucceeded, r.State)
		require.Equal(t, 1, r.Counts.Waiting)
		require.Contains(t, outcomesReasons(w.items(r)), "the sale has lines at 16% and 8% VAT: a Bind order has one VAT rate")
		for _, o := range w.bind.Orders() {
			require.NotEqual(t, strconv.FormatInt(s.ID, 10), o.PurchaseOrder)
		}
		pending, err := w.store.ListPendingSales(context.Background(), w.conn.ID, 10)
		require.NoError(t, err)
		require.Len(t, pending, 1, "kept, with its reason, not dropped")
	})
}

// TestP1AndS2BeyondOnePage: Bind lists hold at most 100 rows a page. A catalogue of 260 products
// is copied whole, found again by code on the next run, and a sale of the last products is sent;
// 260 customers get their orders in one run, each created once.
// Mutation that makes it fail (checked): reading only the first page of Bind products.
func TestP1AndS2BeyondOnePage(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		at := time.Now().UTC().Add(-time.Hour)
		for i := range 260 {
			w.handy.AddProduct(fmt.Sprintf("X-%03d", i), fmt.Sprintf("Producto %d", i), money.MustParse("10"), handysim.IVA(16), at)
			w.handy.AddCustomer(handy.Customer{Code: fmt.Sprintf("K-%03d", i), Description: fmt.Sprintf("Cliente %d", i)})
		}
		w.activate()
		r := w.run(store.SyncProducts)
		require.Equal(t, store.RunSucceeded, r.State, r.Error)
		require.Len(t, w.bind.Products(), 263)
		again := w.run(store.SyncProducts)
		require.Zero(t, again.Counts.Created, "every product found again, on whatever page")
		require.Len(t, w.bind.Products(), 263)

		var sales []handy.SalesOrder
		for i := range 260 {
			sales = append(sales, w.sale(fmt.Sprintf("K-%03d", i), w.ana, line(fmt.Sprintf("X-%03d", 259-i), 1), line("X-259", 2)))
		}
		s := w.run(store.SyncSales)
		require.Equal(t, store.RunSucceeded, s.State, s.Error)
		for _, sale := range sales {
			w.orderOf(sale)
		}
		require.Len(t, w.bind.Clients(), 260)
		w.run(store.SyncSales)
		require.Len(t, w.bind.Orders(), 260)
		w.requireTotalsMatch()
	})
}
