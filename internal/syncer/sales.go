package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/store"
)

func isNotFound(err error) bool { return errs.Is(err, errs.KindNotFound) }

// pendingBatch bounds how many pending sales one run tries again.
const pendingBatch = 500

// sales sends new Handy sales to Bind as orders (S1…S5, C1…C5, W1): first the sales still
// pending from earlier runs, then the sales created in the window from the cursor (minus an
// overlap) to now. The cursor advances only when the whole window was handled; a sale that cannot
// be sent is kept pending, with its reason, and is tried again by later runs.
func (s *session) sales(ctx context.Context) (err error) {
	st := s.e.d.Store
	// Whatever stops the run, the orders already in Bind get their links and items.
	defer func() {
		if ferr := s.flushConfirmed(context.WithoutCancel(ctx), time.Time{}); ferr != nil && err == nil {
			err = ferr
		}
	}()
	pending, err := st.ListPendingSales(ctx, s.c.ID, pendingBatch)
	if err != nil {
		return err
	}
	s.expect(len(pending))
	for _, p := range pending {
		if err := s.e.interrupted(); err != nil {
			return err
		}
		s.done()
		id, _ := strconv.ParseInt(p.HandyID, 10, 64)
		sale, err := s.handy.SalesOrder(ctx, id)
		switch {
		case errors.Is(err, handy.ErrNotFound):
			if err := st.DeletePendingSale(ctx, s.c.ID, p.HandyID); err != nil {
				return err
			}
			s.rec.add(ctx, store.EntitySale, p.HandyID, "", store.OutcomeSkipped, "no longer in Handy; never sent", "")
			continue
		case err != nil:
			return err
		case sale.Deleted:
			// D1: a sale deleted while pending is never sent.
			if err := st.DeletePendingSale(ctx, s.c.ID, p.HandyID); err != nil {
				return err
			}
			s.rec.add(ctx, store.EntitySale, p.HandyID, "", store.OutcomeSkipped, "deleted in Handy before it could be sent", "")
			continue
		}
		if err := s.sale(ctx, sale); err != nil {
			return err
		}
	}
	if err := s.flushConfirmed(ctx, time.Time{}); err != nil {
		return err
	}

	from, to, err := s.window(ctx, store.SyncSales)
	if err != nil {
		return err
	}
	// The cursor follows the run: Handy lists the window by dateCreated, oldest first, so once a
	// sale is handled every earlier one was too, and a run that stops resumes near where it was
	// (the next window reaches Overlap further back, and links de-duplicate).
	cursor, ordered, sinceCheckpoint := from.Add(Overlap), true, 0
	var last time.Time
	// Sales are handled a page at a time, so that their links are read in one query.
	page := make([]handy.SalesOrder, 0, linkBatch)
	// The run remembers the sales it handled so that one listed twice is not handled twice; in the
	// window only the last pages' sales reappear (sales tied on dateCreated may swap places
	// between two page reads, and a listing goes back a page when sales were deleted meanwhile),
	// so it forgets older pages, keeping the pending sales and those it held: a long backlog does
	// not make it hold every id. A sale that reappeared later anyway finds its link, confirmed.
	for id := range s.seen {
		s.keepSeen(id)
	}
	var previous map[int64]bool // the ids of the page before this one
	handle := func() error {
		inPage := make(map[int64]bool, len(page))
		for _, sale := range page {
			inPage[sale.ID] = true
		}
		for id := range previous {
			if !s.keep[id] && !inPage[id] {
				delete(s.seen, id)
			}
		}
		previous = inPage
		if err := s.prefetchLinks(ctx, page); err != nil {
			return err
		}
		for _, sale := range page {
			if err := s.e.interrupted(); err != nil {
				return err
			}
			if err := s.sale(ctx, sale); err != nil {
				return err
			}
			s.done()
			at := sale.DateCreated.Time
			ordered = ordered && !at.Before(last)
			last = at
			if sinceCheckpoint++; sinceCheckpoint >= checkpointEvery {
				// The cursor moves with the links and items of the sales before it, in one
				// transaction.
				checkpoint := time.Time{}
				if ordered && at.After(cursor) {
					checkpoint, cursor = at, at
				}
				if err := s.flushConfirmed(ctx, checkpoint); err != nil {
					return err
				}
				sinceCheckpoint = 0
				// A long backlog is read back as it goes, so the run holds a bounded list of
				// what it sent, not the whole backlog.
				if len(s.sent) >= verifyEvery {
					s.verifyTotals(ctx)
				}
			}
		}
		page, s.links = page[:0], nil
		return nil
	}
	for sale, err := range s.handy.CreatedSales(ctx, from, to, s.expect) {
		if err != nil {
			return err
		}
		if page = append(page, sale); len(page) == linkBatch {
			if err := handle(); err != nil {
				return err
			}
		}
	}
	if err := handle(); err != nil {
		return err
	}
	if err := s.flushConfirmed(ctx, to); err != nil {
		return err
	}
	s.verifyTotals(ctx)
	return nil
}

// verifyEvery is how many sent orders a run reads back at once.
const verifyEvery = 1000

// linkBatch is how many sales' links are read in one query: Handy's page size.
const linkBatch = 100

// prefetchLinks reads the links of a page of sales in one query; sale uses them instead of one
// read each.
func (s *session) prefetchLinks(ctx context.Context, page []handy.SalesOrder) error {
	ids := make([]string, len(page))
	for i, sale := range page {
		ids[i] = strconv.FormatInt(sale.ID, 10)
	}
	links, err := s.e.d.Store.GetLinks(ctx, s.c.ID, store.EntitySale, ids)
	if err != nil {
		return err
	}
	s.links = make(map[string]*store.Link, len(ids))
	var fresh []*store.Link
	for i, id := range ids {
		s.links[id] = links[id] // nil: no link
		// A sale already handled in this run (one that was waiting) is not sent again.
		if links[id] == nil && !s.prewritten[id] && !s.seen[page[i].ID] {
			fresh = append(fresh, &store.Link{ConnectionID: s.c.ID, Entity: store.EntitySale, HandyID: id, State: store.LinkPending, MappingVersion: s.m.Version})
		}
	}
	// The pending links of the page's new sales, in one statement before any of their orders is
	// sent: each says "this sale's order may be in Bind", so that after a crash the next run
	// looks in Bind before sending it. A sale that then waits has its link taken back at the
	// next flush.
	if err := s.e.d.Store.PutLinks(ctx, fresh...); err != nil {
		return err
	}
	if s.prewritten == nil {
		s.prewritten = map[string]bool{}
	}
	for _, l := range fresh {
		s.prewritten[l.HandyID] = true
	}
	return nil
}

// saleLink returns a sale's link, or nil: from the page read ahead when it is there.
func (s *session) saleLink(ctx context.Context, saleID string) (*store.Link, error) {
	if l, ok := s.links[saleID]; ok {
		return l, nil
	}
	l, err := s.e.d.Store.GetLink(ctx, s.c.ID, store.EntitySale, saleID)
	if isNotFound(err) {
		return nil, nil
	}
	return l, err
}

// checkpointEvery is how many sales of a window are handled between two writes of the cursor.
const checkpointEvery = 50

// sentOrder is an order this run put in Bind, with the total Handy has for its sale.
type sentOrder struct {
	saleID, bindID string
	total          money.Decimal
	at             time.Time // the OrderDate sent, as Bind keeps it
}

// verifyTotals reads back, a list page per hundred orders, the totals Bind computed for the orders
// this run sent, and flags in the run every one that differs from Handy's totalSales. The
// arithmetic Bind applies (rounding, per-line taxes) is partly unpublished; a wrong assumption shows
// in the first run against the real service instead of at month end. A read that fails only costs
// the check, which is logged; the orders are in Bind either way.
func (s *session) verifyTotals(ctx context.Context) {
	if len(s.sent) == 0 {
		return
	}
	want := make(map[string]sentOrder, len(s.sent))
	from, to := s.sent[0].at, s.sent[0].at
	for _, o := range s.sent {
		want[o.bindID] = o
		from, to = minTime(from, o.at), maxTime(to, o.at)
	}
	s.sent = nil
	q := bind.Query{Filter: bind.Between("OrderDate", from.Truncate(time.Second), to.Truncate(time.Second).Add(time.Second)), OrderBy: "Number"}
	for o, err := range s.bind.Orders(ctx, q) {
		if err != nil {
			s.e.d.Log.WarnContext(ctx, "reading back order totals", "connection_id", s.c.ID, "error", err)
			return
		}
		w, ok := want[o.ID]
		if !ok {
			continue
		}
		delete(want, o.ID)
		if !o.Total.Equal(w.total) {
			s.rec.add(ctx, store.EntitySale, w.saleID, o.ID, store.OutcomeFailed, fmt.Sprintf(
				"the order reached Bind with total %s, but Handy's totalSales is %s: Bind computed it differently from what the sync expects; correct the order in Bind and check the taxes and the mapping",
				o.Total, w.total), "")
		}
		if len(want) == 0 {
			return
		}
	}
	if len(want) > 0 {
		s.e.d.Log.WarnContext(ctx, "orders sent but not found when reading totals back", "connection_id", s.c.ID, "missing", len(want))
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// window is [cursor − overlap, now]; the first window starts at activation.
func (s *session) window(ctx context.Context, kind store.SyncKind) (from, to time.Time, err error) {
	pos, ok, err := s.e.d.Store.GetCursor(ctx, s.c.ID, kind)
	if err != nil {
		return from, to, err
	}
	if !ok {
		pos = s.c.Resolved.ResolvedAt
	}
	from, to = pos.Add(-Overlap), s.e.d.Now().UTC()
	s.rec.run.WindowStart, s.rec.run.WindowEnd = from, to
	return from, to, nil
}

// sale sends one sale, exactly once. It returns an error only for what stops the run.
func (s *session) sale(ctx context.Context, sale handy.SalesOrder) error {
	if s.seen == nil {
		s.seen = map[int64]bool{}
	}
	if s.seen[sale.ID] {
		return nil
	}
	s.seen[sale.ID] = true
	ctx, span := s.e.d.Tracer.Start(ctx, "sale", trace.WithAttributes(attribute.Int64("handybind.handy_sale_id", sale.ID)))
	defer span.End()
	st := s.e.d.Store
	saleID := strconv.FormatInt(sale.ID, 10)
	link, err := s.saleLink(ctx, saleID)
	if err != nil {
		return err
	}
	if link != nil && link.State != store.LinkPending {
		return nil // already sent (or deleted): windows overlap, ids de-duplicate
	}

	order, fail, err := s.buildOrder(ctx, sale)
	if err != nil {
		return err
	}
	if fail != "" {
		return s.postpone(ctx, saleID, "", fail, err)
	}
	// An edit replaces the earlier order only once the new one can go: a held edit must not
	// leave the company with neither.
	if sale.EditedFrom != nil {
		// The earlier version may have been sent in this run: its link must be written first.
		if err := s.flushConfirmed(ctx, time.Time{}); err != nil {
			return err
		}
		if err := s.replacePredecessor(ctx, sale); err != nil {
			return err
		}
	}
	sum := digest(order)
	sent := func(bindID string) {
		s.sent = append(s.sent, sentOrder{saleID, bindID, sale.TotalSales, order.OrderDate.Time})
	}

	// After a crash or an answer that never came, the order may exist: look before sending.
	if link != nil && link.State == store.LinkPending {
		id, ok, err := s.findOrder(ctx, order.PurchaseOrder)
		if err != nil {
			return s.postpone(ctx, saleID, sum, "looking for an earlier attempt in Bind: "+err.Error(), err)
		}
		if ok {
			sent(id)
			return s.confirmSale(ctx, saleID, id, sum, "found in Bind by PurchaseOrder after an earlier attempt whose answer was lost")
		}
	}
	if err := s.fence(); err != nil {
		return err
	}
	if !s.prewritten[saleID] {
		if err := st.PutLink(ctx, &store.Link{ConnectionID: s.c.ID, Entity: store.EntitySale, HandyID: saleID, State: store.LinkPending, PayloadDigest: sum, MappingVersion: s.m.Version}); err != nil {
			return err
		}
	}
	id, err := s.bind.CreateOrder(ctx, order)
	if errors.Is(err, errLeaseRanOut) {
		return err // not sent, and not this sale's fault: the run stops here
	}
	if errors.Is(err, bind.ErrOutcomeUnknown) {
		found, ok, ferr := s.findOrder(ctx, order.PurchaseOrder)
		if ferr == nil && ok {
			sent(found)
			return s.confirmSale(ctx, saleID, found, sum, "Bind's answer was lost; the order was found by PurchaseOrder")
		}
	}
	if err != nil {
		return s.postpone(ctx, saleID, sum, "creating the order in Bind: "+err.Error(), err)
	}
	sent(id)
	return s.confirmSale(ctx, saleID, id, sum, "")
}

// keepSeen makes the run remember a sale it handled to its end.
func (s *session) keepSeen(id int64) {
	if s.keep == nil {
		s.keep = map[int64]bool{}
	}
	s.keep[id] = true
}

// postpone keeps a sale pending with its reason, so a later run tries it again; only an error
// that stops the whole run (credentials, the context) is returned.
func (s *session) postpone(ctx context.Context, saleID, sum, reason string, cause error) error {
	if id, err := strconv.ParseInt(saleID, 10, 64); err == nil {
		// Held: met again in this run's window, it is not tried a second time.
		s.keepSeen(id)
	}
	if s.prewritten[saleID] {
		// Its order was not sent: the pending link written ahead goes at the next flush.
		s.unsent = append(s.unsent, saleID)
		delete(s.prewritten, saleID)
	}
	p, err := s.e.d.Store.PutPendingSale(ctx, s.c.ID, saleID, reason)
	if err != nil {
		return err
	}
	// A sale held by its data (a product missing in Bind, an unknown warehouse, totals) is
	// waiting, not failing: the run succeeds if that is all. One held by an error is a failure.
	outcome := store.OutcomeWaiting
	if cause != nil {
		outcome = store.OutcomeFailed
	}
	s.rec.add(ctx, store.EntitySale, saleID, "", outcome, fmt.Sprintf("%s; waiting since %s, tried %d time(s); the next runs try again",
		reason, p.CreatedAt.Format(time.RFC3339), p.Attempts), sum)
	// What Bind said stays in the server log: callers see only our own reason.
	var be *bind.APIError
	if errors.As(cause, &be) {
		s.e.d.Log.WarnContext(ctx, "Bind refused a sale's order", "connection_id", s.c.ID, "sale", saleID, "status", be.Status, "bind_says", be.Detail())
	}
	return fatal(cause)
}

func (s *session) confirmSale(ctx context.Context, saleID, bindID, sum, reason string) error {
	it := s.rec.item(store.EntitySale, saleID, bindID, store.OutcomeCreated, reason, sum)
	s.confirmed = append(s.confirmed, confirmation{
		link: &store.Link{ConnectionID: s.c.ID, Entity: store.EntitySale, HandyID: saleID, BindID: bindID, State: store.LinkConfirmed, PayloadDigest: sum, MappingVersion: s.m.Version},
		item: it,
	})
	if len(s.confirmed) >= checkpointEvery {
		return s.flushConfirmed(ctx, time.Time{})
	}
	return nil
}

// confirmation is a sale whose order is in Bind, not yet recorded.
type confirmation struct {
	link *store.Link
	item *store.RunItem
}

// flushConfirmed records the sales whose orders reached Bind since the last flush: their links,
// the end of their waits and their run items (with the run's other buffered items), and the
// cursor when cursor is not zero, in one transaction. Until then each such sale has a pending
// link, written before its order was sent: a run that dies before the flush leaves pending links,
// and the next run finds those orders in Bind by PurchaseOrder instead of sending them again.
func (s *session) flushConfirmed(ctx context.Context, cursor time.Time) error {
	if len(s.confirmed) == 0 && len(s.unsent) == 0 && cursor.IsZero() {
		return nil
	}
	links := make([]*store.Link, len(s.confirmed))
	ids := make([]string, len(s.confirmed))
	items := s.rec.take()
	for i, c := range s.confirmed {
		links[i], ids[i] = c.link, c.link.HandyID
		items = append(items, c.item)
	}
	err := s.e.d.Store.Tx(ctx, func(tx store.Store) error {
		if err := tx.PutLinks(ctx, links...); err != nil {
			return err
		}
		if len(ids) > 0 {
			if err := tx.DeletePendingSales(ctx, s.c.ID, ids...); err != nil {
				return err
			}
		}
		if len(s.unsent) > 0 {
			if err := tx.DeletePendingLinks(ctx, s.c.ID, store.EntitySale, s.unsent...); err != nil {
				return err
			}
		}
		if err := tx.AddRunItems(ctx, items...); err != nil {
			return err
		}
		if !cursor.IsZero() {
			return tx.PutCursor(ctx, s.c.ID, store.SyncSales, cursor)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, c := range s.confirmed {
		if s.links != nil {
			s.links[c.link.HandyID] = c.link
		}
	}
	for _, c := range s.confirmed {
		delete(s.prewritten, c.link.HandyID)
	}
	s.confirmed, s.unsent = s.confirmed[:0], s.unsent[:0]
	return nil
}

func (s *session) findOrder(ctx context.Context, purchaseOrder string) (string, bool, error) {
	orders, err := bind.All(s.bind.Orders(ctx, bind.Query{Filter: bind.And(bind.Eq("PurchaseOrder", purchaseOrder), bind.NeInt("Status", bind.OrderCancelled)), Top: 1}))
	if err != nil || len(orders) == 0 {
		return "", false, err
	}
	return orders[0].ID, true, nil
}

// replacePredecessor handles an edit in Handy: the order of the previous version is deleted in
// Bind before the new version is sent.
func (s *session) replacePredecessor(ctx context.Context, sale handy.SalesOrder) error {
	// Every earlier version: an edit of an edit that never went still replaces the order of the
	// version that did.
	for p := sale.EditedFrom; p != nil; p = p.EditedFrom {
		prevID := strconv.FormatInt(p.ID, 10)
		reason := fmt.Sprintf("replaced by sale %d, its edit in Handy", sale.ID)
		if err := s.e.d.Store.DeletePendingSale(ctx, s.c.ID, prevID); err != nil {
			return err
		}
		if err := s.deleteSaleOrder(ctx, prevID, reason); err != nil {
			return err
		}
	}
	return nil
}

// buildOrder maps a sale to a Bind order with every id resolved. A reason is returned, and no
// order, when the sale cannot be sent yet.
func (s *session) buildOrder(ctx context.Context, sale handy.SalesOrder) (bind.NewOrder, string, error) {
	// A Bind order has one VAT rate; lines at two rates (16% and 8% in the border region) cannot
	// be one order whatever the mapping does.
	if rates := vatRates(sale); len(rates) > 1 {
		return bind.NewOrder{}, fmt.Sprintf("the sale has lines at %s VAT: a Bind order has one VAT rate (VATRate), so it cannot carry them all; enter it in Bind by hand, or split the sale in Handy by VAT rate", joinAnd(rates)), nil
	}
	oe := mapping.OrderEnv{Sale: mapping.SaleOf(sale), Seller: mapping.SellerOf(sale.CreatedBy), Customer: mapping.CustomerOf(sale.Customer), Connection: s.conn}
	order, err := s.m.Order(&oe)
	if err != nil {
		return order, err.Error(), nil
	}

	// S2: every product must exist in Bind.
	if err := s.loadProducts(ctx); err != nil {
		return order, "", err
	}
	var missing []string
	le := mapping.LineEnv{Sale: oe.Sale, Connection: s.conn}
	for i, it := range sale.Items {
		le.Line = mapping.LineOf(i, it)
		line, err := s.m.OrderLine(&le)
		if err != nil {
			return order, err.Error(), nil
		}
		id, ok := s.productByCode[it.Product.Code]
		if !ok {
			why := ""
			enabled, err := s.enabledInHandy(ctx, it.Product.Code)
			if err != nil {
				return order, "", err
			}
			if !it.Product.Enabled || !enabled {
				// A disabled product is never copied, so no product sync will bring it.
				why = ", disabled in Handy: enable it there, and the next product sync brings it"
			}
			missing = append(missing, fmt.Sprintf("%s (%s%s)", it.Product.Code, it.Product.Description, why))
			continue
		}
		line.ID = id
		order.Products = append(order.Products, line)
	}
	if len(missing) > 0 {
		return order, "product(s) not in Bind: " + strings.Join(missing, ", "), nil
	}

	// W1: the seller's warehouse, by name; a name that matches no warehouse is never replaced by
	// the default silently.
	name, err := s.m.Warehouse(&mapping.WarehouseEnv{Seller: oe.Seller, Connection: s.conn})
	if err != nil {
		return order, err.Error(), nil
	}
	wh, ok, err := s.warehouse(ctx, name)
	if err != nil {
		return order, "", err
	}
	if !ok {
		return order, fmt.Sprintf("warehouse %q (from seller %s) is not in Bind; the valid names are %s", name, sale.CreatedBy.Name, quoteList(s.warehouseNames())), nil
	}
	order.WarehouseID, order.LocationID = wh.ID, wh.LocationID
	if order.LocationID == "" {
		order.LocationID = s.c.Resolved.LocationID
	}

	// The invariant: the Bind total of the order equals Handy's totalSales to the cent.
	if total := expectedTotal(order); !total.Equal(sale.TotalSales) {
		return order, fmt.Sprintf("the Bind total would be %s but Handy's totalSales is %s (VAT %s on the lines not exempt, IEPS as each line says; check the lines' taxes and the mapping)", total, sale.TotalSales, order.VATRate), nil
	}

	// C1, C2: the customer, found or created now, last: everything that can hold the sale has
	// been checked, so a customer is only ever created for an order that goes with it.
	clientID, addressID, fail, err := s.customer(ctx, sale.Customer)
	if err != nil || fail != "" {
		return order, fail, err
	}
	order.ClientID, order.AddressID = clientID, addressID
	return order, "", nil
}

// expectedTotal is Bind's total of an order, line by line as Mexican law has it: IEPS on the net
// amount (price × quantity), VAT on the net amount plus the IEPS unless the line is exempt; the
// discount comes off the VAT base; rounded to cents once. docs/sync.md works an example.
func expectedTotal(o bind.NewOrder) money.Decimal {
	one := money.NewFromInt(1)
	withVAT := one.Add(o.VATRate)
	total := money.Zero
	for _, l := range o.Products {
		amount := l.Price.Mul(l.Qty).Mul(one.Add(l.IEPS))
		if !l.VATExempt {
			amount = amount.Mul(withVAT)
		}
		total = total.Add(amount)
	}
	return total.Sub(o.DiscountAmount.Cents().Mul(withVAT)).Cents()
}

// vatRates lists the distinct VAT rates, in percent, of a sale's lines that bear VAT.
func vatRates(sale handy.SalesOrder) []string {
	var rates []string
	for _, it := range sale.Items {
		if it.Tax == nil || !it.Tax.Enabled || it.Tax.Amount.IsZero() {
			continue
		}
		if r := it.Tax.Amount.String() + "%"; !slices.Contains(rates, r) {
			rates = append(rates, r)
		}
	}
	sort.Strings(rates)
	return rates
}

// joinAnd joins words as prose: "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

func (s *session) loadProducts(ctx context.Context) error {
	if s.productByCode != nil {
		return nil
	}
	ps, err := bind.All(s.bind.Products(ctx, bind.Query{}))
	if err != nil {
		return err
	}
	s.productByCode = make(map[string]string, len(ps))
	for _, p := range ps {
		s.productByCode[p.Code] = p.ID
	}
	return nil
}

func (s *session) warehouse(ctx context.Context, name string) (bind.Warehouse, bool, error) {
	if s.warehouses == nil {
		ws, err := bind.All(s.bind.Warehouses(ctx, bind.Query{}))
		if err != nil {
			return bind.Warehouse{}, false, err
		}
		s.warehouses = make(map[string]bind.Warehouse, len(ws))
		for _, w := range ws {
			s.warehouses[strings.ToLower(strings.TrimSpace(w.Name))] = w
		}
	}
	w, ok := s.warehouses[strings.ToLower(strings.TrimSpace(name))]
	return w, ok, nil
}

func (s *session) warehouseNames() []string {
	out := make([]string, 0, len(s.warehouses))
	for _, w := range s.warehouses {
		out = append(out, w.Name)
	}
	sort.Strings(out)
	return out
}

// customer finds the Bind client of a Handy customer: by link, then by the description in Bind
// (C2), and only when both miss creates it with the mapping (C1, C3…C5), with an address so that
// orders have an AddressID.
func (s *session) customer(ctx context.Context, hc handy.Customer) (clientID, addressID, fail string, err error) {
	if known, ok := s.customers[hc.Code]; ok {
		return known[0], known[1], "", nil
	}
	st := s.e.d.Store
	link, err := st.GetLink(ctx, s.c.ID, store.EntityCustomer, hc.Code)
	if err != nil && !isNotFound(err) {
		return "", "", "", err
	}
	if link != nil && link.State == store.LinkConfirmed && link.BindExtra != "" {
		s.knowCustomer(hc.Code, link.BindID, link.BindExtra)
		return link.BindID, link.BindExtra, "", nil
	}
	payload, err := s.m.Client(&mapping.ClientEnv{Customer: mapping.CustomerOf(hc), Connection: s.conn})
	if err != nil {
		return "", "", err.Error(), nil
	}
	sum := digest(payload)
	id, found, err := s.findClient(ctx, hc.Description)
	if err != nil {
		return "", "", "looking for customer " + hc.Code + " in Bind: " + err.Error(), fatal(err)
	}
	outcome := store.OutcomeUnchanged
	reason := "found in Bind by its description"
	if !found {
		// Before the intent, too: a process that stalled must not overwrite the link of the one
		// that took over (later writes ask the Bind client's guard).
		if err := s.fence(); err != nil {
			return "", "", "", err
		}
		if err := st.PutLink(ctx, &store.Link{ConnectionID: s.c.ID, Entity: store.EntityCustomer, HandyID: hc.Code, State: store.LinkPending, PayloadDigest: sum, MappingVersion: s.m.Version}); err != nil {
			return "", "", "", err
		}
		id, err = s.bind.CreateClient(ctx, payload)
		if errors.Is(err, bind.ErrOutcomeUnknown) {
			if fid, ok, ferr := s.findClient(ctx, hc.Description); ferr == nil && ok {
				id, err = fid, nil
			}
		}
		if err != nil {
			s.rec.add(ctx, store.EntityCustomer, hc.Code, "", store.OutcomeFailed, "creating the client in Bind: "+err.Error(), sum)
			return "", "", "customer " + hc.Code + " could not be created in Bind: " + err.Error(), fatal(err)
		}
		outcome, reason = store.OutcomeCreated, "created for sale's order"
	}
	details, err := s.bind.Client(ctx, id)
	if err != nil {
		return "", "", "reading client " + id + " from Bind: " + err.Error(), fatal(err)
	}
	if len(details.Addresses) == 0 {
		return "", "", fmt.Sprintf("client %s in Bind has no address, which an order needs; add one in Bind", details.CommercialName), nil
	}
	if err := st.PutLink(ctx, &store.Link{ConnectionID: s.c.ID, Entity: store.EntityCustomer, HandyID: hc.Code, BindID: id, BindExtra: details.Addresses[0], State: store.LinkConfirmed, PayloadDigest: sum, MappingVersion: s.m.Version}); err != nil {
		return "", "", "", err
	}
	s.rec.add(ctx, store.EntityCustomer, hc.Code, id, outcome, reason, sum)
	s.knowCustomer(hc.Code, id, details.Addresses[0])
	return id, details.Addresses[0], "", nil
}

// knowCustomer remembers a customer's Bind client and address for the rest of the run: a
// confirmed link does not change while the run holds the connection's sales sync.
func (s *session) knowCustomer(code, clientID, addressID string) {
	if s.customers == nil {
		s.customers = map[string][2]string{}
	}
	s.customers[code] = [2]string{clientID, addressID}
}

func (s *session) findClient(ctx context.Context, description string) (string, bool, error) {
	cs, err := bind.All(s.bind.Clients(ctx, bind.Query{Filter: bind.Eq("ClientName", description), Top: 1}))
	if err != nil || len(cs) == 0 {
		return "", false, err
	}
	return cs[0].ID, true, nil
}

// enabledInHandy says whether Handy lists a product among its enabled ones. The list is read at
// most once a run, and only when a sale names a product missing in Bind.
func (s *session) enabledInHandy(ctx context.Context, code string) (bool, error) {
	if s.handyEnabled == nil {
		s.handyEnabled = map[string]bool{}
		for p, err := range s.handy.Products(ctx, nil) {
			if err != nil {
				s.handyEnabled = nil
				return true, err
			}
			if p.Enabled {
				s.handyEnabled[p.Code] = true
			}
		}
	}
	return s.handyEnabled[code], nil
}
