package syncer_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/store"
)

// TestOrderTotalsAreReadBack: whether Bind rounds the subtotal before adding VAT is not
// published. Against a Bind that rounds once (what the sync assumes) every order's total equals
// Handy's; against one that rounds the subtotal first, the run reads the totals back and flags
// exactly the orders whose Bind total differs, naming both totals.
// Mutations that make it fail: skipping verifyTotals; comparing against the order's own expected
// total instead of Handy's totalSales; a read-back filter that misses the run's orders.
func TestOrderTotalsAreReadBack(t *testing.T) {
	t.Parallel()
	for name, rounding := range map[string]bindsim.Rounding{"round once": bindsim.RoundOnce, "subtotal first": bindsim.RoundSubtotalFirst} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			backends(t, func(t *testing.T, dbURL string) {
				w := newWorld(t, dbURL, bindsim.WithRounding(rounding))
				w.activate()
				w.run(store.SyncProducts)
				handyTotal := map[string]string{}
				for qty := int64(1); qty <= 40; qty++ {
					s := w.sale("C-1", w.ana, line("L-001", qty), line("E-001", 1+qty%3))
					handyTotal[strconv.FormatInt(s.ID, 10)] = s.TotalSales.String()
				}
				before := w.bind.Count("GET /api/Orders")
				r := w.run(store.SyncSales)
				require.Equal(t, 1, w.bind.Count("GET /api/Orders")-before, "40 orders are read back in one page")

				differ := map[string]bool{}
				for _, o := range w.bind.Orders() {
					if o.Total.String() != handyTotal[o.PurchaseOrder] {
						differ[o.PurchaseOrder] = true
					}
				}
				flagged := map[string]bool{}
				for _, it := range w.items(r) {
					if it.Entity == store.EntitySale && it.Outcome == store.OutcomeFailed {
						require.True(t, strings.Contains(it.Reason, "reached Bind with total"), it.Reason)
						require.Contains(t, it.Reason, "Handy's totalSales is "+handyTotal[it.HandyID])
						flagged[it.HandyID] = true
					}
				}
				require.Equal(t, differ, flagged, "exactly the orders whose totals differ are flagged")
				if rounding == bindsim.RoundOnce {
					require.Empty(t, flagged)
					require.Equal(t, store.RunSucceeded, r.State)
				} else {
					require.NotEmpty(t, flagged, "these carts include some where the roundings differ")
					require.Equal(t, store.RunPartial, r.State)
				}
			})
		})
	}
}
