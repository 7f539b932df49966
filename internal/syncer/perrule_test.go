package syncer_test

import (
	"context"
	"net/http"
	"strconv"
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
	"github.com/handybind/handybind/internal/syncer"
	"github.com/handybind/handybind/internal/testdb"
)

// salesDay activates a connection, syncs products, sends two sales (one per customer, one per
// seller) and returns them with the world; every test built on it checks the totals invariant.
func salesDay(t *testing.T, dbURL string) (*world, handy.SalesOrder, handy.SalesOrder) {
	w := newWorld(t, dbURL)
	w.activate()
	w.run(store.SyncProducts)
	a := w.sale("C-1", w.ana, line("E-001", 3), line("L-001", 12))
	b := w.sale("C-2", w.beto, line("L-001", 1))
	r := w.run(store.SyncSales)
	require.Equal(t, store.RunSucceeded, r.State, r.Error)
	t.Cleanup(w.requireTotalsMatch)
	return w, a, b
}

// Mutation that makes it fail (checked): reading an empty sales window (from the window's end).
func TestS1NewSalesBecomeBindOrders(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, a, b := salesDay(t, dbURL)
		require.Len(t, w.orderOf(a).Products, 2)
		require.Len(t, w.orderOf(b).Products, 1)
		require.Len(t, w.bind.Orders(), 2)
	})
}

// Mutation that makes it fail (checked): CurrencyID: connection.priceListId in the S3 rule of v1.yaml.
func TestS3OrderGetsPriceListAndCurrency(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, a, _ := salesDay(t, dbURL)
		o := w.orderOf(a)
		require.Equal(t, w.general, o.PriceListID)
		require.Equal(t, bindsim.MXN, o.CurrencyID)
	})
}

// Mutation that makes it fail (checked): Comments without the seller's email (S4 rule of v1.yaml).
func TestS4SellerNameAndEmailInComments(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, a, b := salesDay(t, dbURL)
		require.Equal(t, "Vendedor: Ana Ruta <ana@example.com>", w.orderOf(a).Comments)
		require.Equal(t, "Vendedor: Beto Ventas <beto@example.com>", w.orderOf(b).Comments)
	})
}

func clientsByName(w *world) map[string]bind.ClientDetails {
	out := map[string]bind.ClientDetails{}
	for _, c := range w.bind.Clients() {
		out[c.CommercialName] = c
	}
	return out
}

// Mutation that makes it fail (checked): creating a customer while building an order, before the
// order's own checks (a customer in Bind with no order).
func TestC1CustomersAreCreatedOnlyThroughOrders(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		require.Empty(t, w.bind.Clients(), "no customer before an order needs it")
		w.sale("C-2", w.ana, line("E-001", 1))
		w.run(store.SyncSales)
		require.Len(t, w.bind.Clients(), 1, "only the customer of the order")
		w.requireTotalsMatch()
	})
}

// Mutation that makes it fail (checked): ignoring the stored link, so every order searches Bind.
func TestC2CustomerFoundByLinkThenDescription(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, _, _ := salesDay(t, dbURL)
		w.sale("C-1", w.ana, line("E-001", 1))
		w.sale("C-2", w.beto, line("E-001", 1))
		before := w.bind.Count("GET /api/Clients")
		w.run(store.SyncSales)
		require.Len(t, w.bind.Clients(), 2, "found by the stored link, not created again")
		require.Equal(t, before, w.bind.Count("GET /api/Clients"), "a linked customer needs no search in Bind")
	})
}

// Mutation that makes it fail (checked): LegalName: customer.code in the C3 rule of v1.yaml.
func TestC3DescriptionIsRazonSocialAndNombreComercial(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, _, _ := salesDay(t, dbURL)
		c := clientsByName(w)["Tienda Don Pepe"]
		require.Equal(t, "Tienda Don Pepe", c.LegalName)
		require.Equal(t, "Tienda Don Pepe", c.CommercialName)
	})
}

// Mutation that makes it fail (checked): another generic RFC (XEXX010101000) in the C4 rule of v1.yaml.
func TestC4GenericRFCWhenMissing(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, _, _ := salesDay(t, dbURL)
		byName := clientsByName(w)
		require.Equal(t, "XAXX010101000", byName["Tienda Don Pepe"].RFC)
		require.Equal(t, "LULA800101AB1", byName["Abarrotes Lupita"].RFC)
	})
}

// Mutation that makes it fail (checked): a fixed AccountingNumber instead of connection.ledgerAccount (C5).
func TestC5NewCustomerGetsPriceListAndLedgerAccount(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, _, _ := salesDay(t, dbURL)
		c := clientsByName(w)["Tienda Don Pepe"]
		require.Equal(t, w.general, c.PriceListID)
		require.Equal(t, "105-01-001", c.Account)
		require.NotEmpty(t, c.Addresses, "created with an address, so orders have an AddressID")
	})
}

func TestPausedConnectionDoesNotSyncUntilActivatedAgain(t *testing.T) {
	t.Parallel()
	w := newWorld(t, testdb.SQLite(t))
	w.activate()
	_, err := w.conns.Pause(context.Background(), w.conn.ID)
	require.NoError(t, err)
	_, err = w.engine.Run(context.Background(), w.conn.ID, store.SyncProducts, store.TriggerSchedule)
	require.ErrorIs(t, err, syncer.ErrInactive)
	require.Empty(t, w.bind.Products())
	w.activate() // resumes, resolving the names again
	r := w.run(store.SyncProducts)
	require.Equal(t, 3, r.Counts.Created)
}

// TestD1FailedDeletionIsTriedAgain: a deletion that fails holds the deleted-sales cursor, so a later
// run reads the window again, however long the failure lasted: here the retry comes well past
// the window's overlap.
// Mutation that makes it fail (checked): moving the cursor even when a deletion failed.
func TestD1FailedDeletionIsTriedAgain(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, a, _ := salesDay(t, dbURL)
		w.run(store.SyncDeletedSales) // the cursor is now
		require.NoError(t, w.handy.DeleteSale(a.ID, time.Now().UTC().Add(time.Minute), w.ana.ID))
		w.ahead.Store(int64(2 * syncer.Overlap))                                       // the failing run comes half an hour later
		w.bind.Inject("DELETE /api/Orders/{id}", bindsim.Fault{Status: 503, Times: 1}) // a DELETE is sent once a run
		r := w.run(store.SyncDeletedSales)
		require.Equal(t, store.RunPartial, r.State)
		require.Equal(t, 1, r.Counts.Failed)
		w.ahead.Store(int64(2*syncer.Overlap + time.Minute))
		r = w.run(store.SyncDeletedSales)
		require.Equal(t, 1, r.Counts.Deleted, "the window is read again until the deletion goes through")
		for _, o := range w.bind.Orders() {
			if o.PurchaseOrder == strconv.FormatInt(a.ID, 10) {
				require.Equal(t, int32(bind.OrderCancelled), o.StatusCode)
			}
		}
		require.Zero(t, w.run(store.SyncDeletedSales).Counts.Deleted)
	})
}

func TestSaleIsKeptWhenBindCannotBeAsked(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, _, _ := salesDay(t, dbURL)
		s := w.sale("C-1", w.ana, line("E-001", 1))
		// Bind keeps failing the create: the sale is kept pending, not dropped with the window.
		w.bind.Inject("POST /api/Orders", bindsim.Fault{Status: 500, Times: 1})
		r := w.run(store.SyncSales)
		require.Equal(t, 1, r.Counts.Failed)
		pending, err := w.store.ListPendingSales(context.Background(), w.conn.ID, 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		// The create may have landed (a 500 after the write): the next run looks before resending.
		w.run(store.SyncSales)
		w.orderOf(s)
	})
}

// TestD1DeletionWhenBindRemovesOrFulfilled covers the other two answers Bind may give a DELETE:
// the order removed outright (a later GET is 404), and an order already fulfilled, which Bind
// accepts the DELETE for but keeps. The first is a deletion; the second is a failure that says the
// order is still "Surtido", is tried again by later runs, and never becomes "deleted".
// Mutations that make it fail: treating any 204 as done without reading the order back; treating
// a 404 after the DELETE as a failure.
func TestD1DeletionWhenBindRemovesOrFulfilled(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w, a, b := salesDay(t, dbURL)
		w.bind.DeleteMode = bindsim.DeleteRemoves
		removed, fulfilled := w.orderOf(a), w.orderOf(b)
		require.True(t, w.bind.FulfillOrder(fulfilled.ID))
		now := time.Now().UTC()
		require.NoError(t, w.handy.DeleteSale(a.ID, now, w.ana.ID))
		require.NoError(t, w.handy.DeleteSale(b.ID, now, w.beto.ID))

		r := w.run(store.SyncDeletedSales)
		require.Equal(t, store.RunPartial, r.State)
		byID := map[string]*store.RunItem{}
		for _, it := range w.items(r) {
			byID[it.HandyID] = it
		}
		gone := byID[strconv.FormatInt(a.ID, 10)]
		require.Equal(t, store.OutcomeDeleted, gone.Outcome)
		require.Contains(t, gone.Reason, "the Bind order is gone")
		kept := byID[strconv.FormatInt(b.ID, 10)]
		require.Equal(t, store.OutcomeFailed, kept.Outcome)
		require.Contains(t, kept.Reason, `still "Surtido"`)

		ids := map[string]bool{}
		for _, o := range w.bind.Orders() {
			ids[o.ID] = true
		}
		require.False(t, ids[removed.ID])
		require.True(t, ids[fulfilled.ID], "a fulfilled order stays in Bind")

		again := w.run(store.SyncDeletedSales)
		require.Equal(t, 1, again.Counts.Failed, "the fulfilled order's deletion is tried again, and fails again")
		require.Zero(t, again.Counts.Deleted, "the removed order is not deleted twice")
	})
}

// TestIEPSLineIsNotHiddenInTheVATPrice: a line with an optional tax (IEPS, Handy's taxOptional)
// has it inside its tax-inclusive price. The current mapping sends the IEPS on the line, with a
// net price Bind's arithmetic turns back into Handy's total; a connection pinned to v1, which
// knows one VAT rate only, keeps such a sale waiting with both totals in its reason, never sends
// it with the IEPS passed off as part of a 16%-VAT price (totals that agree, books that are wrong).
// Mutations that make it fail (checked): the line's tax rate computed without taxOptional
// (mapping.LineOf); the IEPS rule left out of v2.
func TestIEPSLineIsNotHiddenInTheVATPrice(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.handy.AddProductWithOptionalTax("R-600", "Refresco 600ml", money.MustParse("15"), handysim.IVA(16), handysim.IEPS(8), time.Now().UTC().Add(-time.Hour))
		w.activate()
		w.run(store.SyncProducts)
		s := w.sale("C-1", w.ana, handysim.Line{Product: "R-600", Quantity: money.NewFromInt(6), OptionalTax: true})
		w.run(store.SyncSales)
		o := w.orderOf(s)
		require.Equal(t, "0.08", o.Products[0].IEPSRate.String(), "the IEPS goes on the line")
		require.True(t, o.IEPS.IsPositive(), "and shows on the order")
		w.requireTotalsMatch()

		_, err := w.conns.Update(context.Background(), w.conn.ID, connection.Input{MappingVersion: "v1"}, []string{connection.FieldMappingVersion})
		require.NoError(t, err)
		held := w.sale("C-1", w.ana, handysim.Line{Product: "R-600", Quantity: money.NewFromInt(6), OptionalTax: true})
		r := w.run(store.SyncSales)
		reason := ""
		for _, it := range w.items(r) {
			if it.HandyID == strconv.FormatInt(held.ID, 10) {
				reason = it.Reason
			}
		}
		require.Contains(t, reason, "Handy's totalSales is "+held.TotalSales.String(), "v1 holds it")
		require.Len(t, w.bind.Orders(), 1)
	})
}

// TestC1HeldSaleCreatesNoCustomer: a sale that waits (here: a 16% and an 8% line, which one Bind
// order cannot carry) must not leave its customer in Bind; the customer is created only with an
// order that goes.
// Mutation that makes it fail (checked): finding or creating the customer before the totals check.
func TestC1HeldSaleCreatesNoCustomer(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		held := w.sale("C-2", w.ana, line("E-001", 1), line("M-001", 1))
		r := w.run(store.SyncSales)
		require.Equal(t, "waiting", outcomes(w.items(r))["sale "+strconv.FormatInt(held.ID, 10)])
		require.Empty(t, w.bind.Clients(), "the held sale's customer is not in Bind")
		require.Empty(t, w.bind.Orders())

		sent := w.sale("C-2", w.ana, line("E-001", 2))
		w.run(store.SyncSales)
		w.orderOf(sent)
		require.Len(t, w.bind.Clients(), 1, "created with the first order that goes")
	})
}

// TestD1LostDeleteAnswerSendsOneDelete: a DELETE that lands but whose answer is lost (dropped
// connection, 5xx after the write) is settled by reading the order, not by sending it again.
// Mutation that makes it fail (checked): letting the client retry a DELETE after it was sent.
func TestD1LostDeleteAnswerSendsOneDelete(t *testing.T) {
	t.Parallel()
	for name, fault := range map[string]bindsim.Fault{
		"connection dropped":  {LoseResponse: true},
		"502 after the write": {StatusAfterApply: http.StatusBadGateway},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backends(t, func(t *testing.T, dbURL string) {
				w, a, _ := salesDay(t, dbURL)
				require.NoError(t, w.handy.DeleteSale(a.ID, time.Now().UTC(), w.ana.ID))
				w.bind.Inject("DELETE /api/Orders/{id}", fault)
				r := w.run(store.SyncDeletedSales)
				require.Equal(t, 1, r.Counts.Deleted, r.Error)
				require.Equal(t, 1, w.bind.Count("DELETE /api/Orders/{id}"), "one DELETE, whatever became of its answer")
				require.Zero(t, w.run(store.SyncDeletedSales).Counts.Deleted)
				require.Equal(t, 1, w.bind.Count("DELETE /api/Orders/{id}"))
			})
		})
	}
}

// TestHeldSalesSayPreciselyWhy: a sale of a product disabled in Handy (so never copied to Bind)
// says so, not only "missing in Bind"; two wrong credentials at activation are named together.
// Mutations that make it fail: dropping the disabled-product reason; stopping at the first
// refused credential.
func TestHeldSalesSayPreciselyWhy(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		ctx := context.Background()
		_, err := w.conns.Update(ctx, w.conn.ID, connection.Input{HandyToken: "wrong-h", BindToken: "wrong-b"},
			[]string{connection.FieldHandyToken, connection.FieldBindToken})
		require.NoError(t, err)
		_, err = w.engine.Activate(ctx, w.conn.ID, nil)
		require.ErrorContains(t, err, "Handy rejected the API token")
		require.ErrorContains(t, err, "Bind rejected the API key")
		_, err = w.conns.Update(ctx, w.conn.ID, connection.Input{HandyToken: handyToken, BindToken: bindToken},
			[]string{connection.FieldHandyToken, connection.FieldBindToken})
		require.NoError(t, err)

		w.handy.AddProduct("D-001", "Descontinuado", money.MustParse("10"), handysim.IVA(16), time.Now().UTC().Add(-time.Hour))
		s := w.sale("C-1", w.ana, line("D-001", 1))
		require.NoError(t, w.handy.UpdateProduct("D-001", time.Now().UTC().Add(-time.Minute), func(p *handy.Product) { p.Enabled = false }))
		w.activate()
		w.run(store.SyncProducts)
		for _, p := range w.bind.Products() {
			require.NotEqual(t, "D-001", p.Code, "a disabled product is not copied")
		}
		r := w.run(store.SyncSales)
		for _, it := range w.items(r) {
			if it.HandyID == strconv.FormatInt(s.ID, 10) {
				require.Contains(t, it.Reason, "D-001 (Descontinuado, disabled in Handy")
				return
			}
		}
		t.Fatal("the held sale has no item")
	})
}

// TestBackfillSendsExactlyTheChosenSales: activation with sales_since three days back sends the
// sales that reached Handy since then, once; older ones only when a paused connection is moved
// further back; a start in the future or beyond the limit is refused; and where the next run reads
// from is visible.
// Mutations that make it fail (checked): ignoring sales_since; storing it as the cursor without
// the window's overlap.
func TestBackfillSendsExactlyTheChosenSales(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		ctx := context.Background()
		now := time.Now().UTC()
		w.activate()
		w.run(store.SyncProducts)
		_, err := w.conns.Pause(ctx, w.conn.ID)
		require.NoError(t, err)
		sale := func(at time.Time) handy.SalesOrder {
			o, err := w.handy.CreateSale(handysim.Sale{Customer: "C-1", Seller: w.ana.ID, At: at, Lines: []handysim.Line{line("E-001", 1)}})
			require.NoError(t, err)
			return o
		}
		old := []handy.SalesOrder{sale(now.Add(-100 * time.Hour)), sale(now.Add(-90 * time.Hour)), sale(now.Add(-72*time.Hour - 10*time.Minute))}
		recent := []handy.SalesOrder{sale(now.Add(-71 * time.Hour)), sale(now.Add(-48 * time.Hour)), sale(now.Add(-time.Hour))}

		_, err = w.engine.ActivateFrom(ctx, w.conn.ID, now.Add(time.Hour), nil)
		require.True(t, errs.Is(err, errs.KindInvalid), "%v", err)
		_, err = w.engine.ActivateFrom(ctx, w.conn.ID, now.Add(-32*24*time.Hour), nil)
		require.ErrorContains(t, err, "more than 31 days back")

		c, err := w.engine.ActivateFrom(ctx, w.conn.ID, now.Add(-72*time.Hour), nil)
		require.NoError(t, err)
		from, err := w.engine.SalesFrom(ctx, c)
		require.NoError(t, err)
		require.WithinDuration(t, now.Add(-72*time.Hour), from, time.Second, "the next run reads from the chosen time")
		_, err = w.engine.ActivateFrom(ctx, w.conn.ID, now.Add(-96*time.Hour), nil)
		require.ErrorContains(t, err, "pause it", "an active connection's start is not moved under it")

		w.run(store.SyncSales)
		w.run(store.SyncSales)
		require.Len(t, w.bind.Orders(), len(recent))
		for _, s := range recent {
			w.orderOf(s)
		}

		_, err = w.conns.Pause(ctx, w.conn.ID)
		require.NoError(t, err)
		_, err = w.engine.ActivateFrom(ctx, w.conn.ID, now.Add(-96*time.Hour), nil)
		require.NoError(t, err)
		w.run(store.SyncSales)
		require.Len(t, w.bind.Orders(), len(recent)+2, "the sales since 96 hours ago, and nothing twice")
		w.orderOf(old[1])
		w.orderOf(old[2])
		for _, s := range recent {
			w.orderOf(s)
		}
		w.requireTotalsMatch()
	})
}

// TestHeldEditKeepsTheEarlierOrder: an edit that has to wait (its new product is not in Bind yet)
// must not leave the company without the order: the earlier version's order stays until the edit's
// order goes, then is replaced; an edit deleted while waiting takes the earlier order with it.
// Mutations that make it fail (checked): deleting an edited version's order from the deleted-sales
// stream; replacing only the immediate predecessor.
func TestHeldEditKeepsTheEarlierOrder(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		w := newWorld(t, dbURL)
		w.activate()
		w.run(store.SyncProducts)
		active := func(sale handy.SalesOrder) bool {
			for _, o := range w.bind.Orders() {
				if o.PurchaseOrder == strconv.FormatInt(sale.ID, 10) {
					return o.StatusCode == bind.OrderActive
				}
			}
			return false
		}

		v1 := w.sale("C-1", w.ana, line("E-001", 1))
		w.run(store.SyncSales)
		w.handy.AddProduct("N-002", "Nuevo", money.MustParse("20"), handysim.IVA(16), time.Now().UTC().Add(-time.Minute))
		v2, err := w.handy.EditSale(v1.ID, handysimSale("C-1", w.ana, line("E-001", 1), line("N-002", 1)))
		require.NoError(t, err)
		w.run(store.SyncSales) // v2 waits for N-002
		w.run(store.SyncDeletedSales)
		require.True(t, active(v1), "the earlier order stays while the edit waits")
		// An edit of the waiting edit: the order of v1 is still the one to replace.
		v3, err := w.handy.EditSale(v2.ID, handysimSale("C-1", w.ana, line("E-001", 2), line("N-002", 1)))
		require.NoError(t, err)
		w.run(store.SyncSales)
		w.run(store.SyncDeletedSales)
		require.True(t, active(v1))
		w.run(store.SyncProducts)
		w.run(store.SyncSales)
		require.False(t, active(v1), "replaced once the edit went")
		require.True(t, active(v3))
		w.requireTotalsMatch()

		// A waiting edit that is deleted takes the earlier order with it.
		u1 := w.sale("C-2", w.beto, line("E-001", 1))
		w.run(store.SyncSales)
		w.handy.AddProduct("N-003", "Otro nuevo", money.MustParse("30"), handysim.IVA(16), time.Now().UTC().Add(-time.Minute))
		u2, err := w.handy.EditSale(u1.ID, handysimSale("C-2", w.beto, line("N-003", 1)))
		require.NoError(t, err)
		w.run(store.SyncSales)
		require.True(t, active(u1))
		require.NoError(t, w.handy.DeleteSale(u2.ID, time.Now().UTC(), w.beto.ID))
		w.run(store.SyncDeletedSales)
		require.False(t, active(u1), "the sale is gone from Handy, so its order goes from Bind")
	})
}
