package bindsim

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/money"
)

func notFound(w http.ResponseWriter, what, id string) {
	writeError(w, http.StatusNotFound, "No "+what+" was found with ID '"+id+"'.")
}

// Lookups below expect s.mu held.

func (s *Sim) findProduct(id string) *productRecord {
	for _, p := range s.products {
		if strings.EqualFold(p.ID, id) {
			return p
		}
	}
	return nil
}

func (s *Sim) findClient(id string) *clientRecord {
	for _, c := range s.clients {
		if strings.EqualFold(c.ID, id) {
			return c
		}
	}
	return nil
}

func (s *Sim) findOrder(id string) (int, *bind.OrderDetails) {
	for i, o := range s.orders {
		if strings.EqualFold(o.ID, id) {
			return i, o
		}
	}
	return -1, nil
}

func find[T any](items []T, match func(T) bool) (T, bool) {
	for _, it := range items {
		if match(it) {
			return it, true
		}
	}
	var zero T
	return zero, false
}

func (s *Sim) priceList(id string) (priceList, bool) {
	return find(s.priceLists, func(p priceList) bool { return strings.EqualFold(p.ID, id) })
}

func (s *Sim) currency(id string) (currency, bool) {
	return find(s.currencies, func(c currency) bool { return strings.EqualFold(c.ID, id) })
}

func (s *Sim) location(id string) (location, bool) {
	return find(s.locations, func(l location) bool { return strings.EqualFold(l.ID, id) })
}

func (s *Sim) warehouse(id string) (warehouse, bool) {
	return find(s.warehouses, func(x warehouse) bool { return strings.EqualFold(x.ID, id) })
}

// productModel is a product with its price in each list, named by the list's name.
func (s *Sim) productModel(p *productRecord) bind.ProductDetails {
	d := p.ProductDetails
	d.Prices.Items = nil
	for _, pl := range s.priceLists {
		if price, ok := p.prices[pl.ID]; ok {
			d.Prices.Items = append(d.Prices.Items, bind.ProductPriceItem{Name: pl.Name, Price: price, CurrencyCode: d.CurrencyCode, Type: 1})
		}
	}
	return d
}

func (s *Sim) getProduct(w http.ResponseWriter, id string) {
	s.mu.Lock()
	p := s.findProduct(id)
	var d bind.ProductDetails
	if p != nil {
		d = s.productModel(p)
	}
	s.mu.Unlock()
	if p == nil {
		notFound(w, "product", id)
		return
	}
	writeJSON(w, http.StatusOK, productDetailsOf(d))
}

// createProduct stores a new product; Bind does not say which list its Price lands in, so here it
// lands in the first price list (the company's default).
func (s *Sim) createProduct(w http.ResponseWriter, body []byte) {
	var in newProduct
	if !decodeBody(w, body, &in) {
		return
	}
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	cur, ok := s.currency(in.CurrencyID)
	if !ok {
		writeError(w, http.StatusBadRequest, "The currency '"+in.CurrencyID+"' does not exist.")
		return
	}
	p := &productRecord{prices: map[string]money.Decimal{}}
	p.ID = newID()
	p.Code, p.Title, p.Description, p.SKU = in.Code, in.Title, in.Description, in.SKU
	p.Cost, p.CurrencyID, p.CurrencyCode = in.Cost.money(), cur.ID, cur.Code
	p.Category1ID, p.Category2ID, p.Category3ID = in.Category1ID, in.Category2ID, in.Category3ID
	p.CreationDate = bind.Time{Time: s.now()}
	p.Number = int32(len(s.products) + 1)
	p.Unit = "Pieza"
	p.ChargeVAT = true
	p.PricingType = 1
	if len(s.priceLists) > 0 {
		p.prices[s.priceLists[0].ID] = in.Price.money()
	}
	s.products = append(s.products, p)
	writeJSON(w, http.StatusOK, p.ID)
}

// editProduct replaces a product's editable fields; EditProduct has no price, and stock is not
// touched either.
func (s *Sim) editProduct(w http.ResponseWriter, body []byte) {
	var in editProduct
	if !decodeBody(w, body, &in) {
		return
	}
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	p := s.findProduct(in.ID)
	if p == nil {
		notFound(w, "product", in.ID)
		return
	}
	cur, ok := s.currency(in.CurrencyID)
	if !ok {
		writeError(w, http.StatusBadRequest, "The currency '"+in.CurrencyID+"' does not exist.")
		return
	}
	p.Code, p.Title, p.Cost, p.CurrencyID, p.CurrencyCode = in.Code, in.Title, in.Cost.money(), cur.ID, cur.Code
	p.SKU, p.Description = in.SKU, in.Description
	p.Category1ID, p.Category2ID, p.Category3ID = in.Category1ID, in.Category2ID, in.Category3ID
	// A PUT is a whole EditProduct (the reference's word): what is left out takes its zero value,
	// as a replace does, so a client that sends only what changed clears the unit and the taxes.
	p.Unit = in.Unit
	p.ChargeVAT = in.ChargeVAT != nil && *in.ChargeVAT
	p.IEPSRate = money.Zero
	if in.IEPSRate != nil {
		p.IEPSRate = in.IEPSRate.money()
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) priceAndInventory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	wh, pl := q.Get("warehouseId"), q.Get("priceListId")
	if !guidSegment.MatchString(wh) || !guidSegment.MatchString(pl) {
		writeError(w, http.StatusBadRequest, "The request is invalid. warehouseId and priceListId must be GUIDs.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, whOK := s.warehouse(wh)
	list, plOK := s.priceList(pl)
	if !whOK || !plOK {
		writeError(w, http.StatusBadRequest, "The warehouse or price list does not exist.")
		return
	}
	out := make([]productPriceAndInventory, 0, len(s.products))
	for _, p := range s.products {
		// The reference shows the rate a product is charged (0.16 in real answers); a product that
		// charges no VAT is taken to show 0.
		vat := s.DefaultVATRate
		if !p.ChargeVAT {
			vat = money.Zero
		}
		out = append(out, productPriceAndInventory{
			ID: p.ID, Code: p.Code, Title: p.Title, Number: numberOf(money.NewFromInt(int64(p.Number))),
			Price: numberOf(p.prices[list.ID]), VAT: numberOf(vat), PricingTypeText: "Listas", SKU: p.SKU,
			Descripcion: p.Description, Inventory: numberOf(p.CurrentInventory),
			IEPS: numberOf(p.IEPSRate), VATExempt: !p.ChargeVAT,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) getClient(w http.ResponseWriter, id string) {
	s.mu.Lock()
	c := s.findClient(id)
	var d clientDetails
	if c != nil {
		d = clientDetailsOf(c)
	}
	s.mu.Unlock()
	if c == nil {
		notFound(w, "client", id)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// rfcPattern is NewClient.RFC's pattern in the official definition.
var rfcPattern = regexp.MustCompile(`[A-Z,a-z,ñ,Ñ,&]{3,4}[0-9]{2}[0-1][0-9][0-3][0-9][A-Z,a-z,0-9]?[A-Z,a-z,0-9]?[0-9,A-Z,a-z]?`)

// createClient stores a new client; Bind does not deduplicate, so neither does this.
func (s *Sim) createClient(w http.ResponseWriter, body []byte) {
	var in newClient
	if !decodeBody(w, body, &in) {
		return
	}
	if !rfcPattern.MatchString(in.RFC) {
		writeError(w, http.StatusBadRequest, "The request is invalid. The RFC '"+in.RFC+"' is not valid.")
		return
	}
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	pl, ok := s.priceList(in.PriceListID)
	if !ok {
		writeError(w, http.StatusBadRequest, "The price list '"+in.PriceListID+"' does not exist.")
		return
	}
	acct, ok := find(s.accounts, func(a account) bool { return a.Number == in.AccountingNumber })
	if !ok {
		writeError(w, http.StatusBadRequest, "The accounting number '"+in.AccountingNumber+"' does not exist.")
		return
	}
	c := &clientRecord{}
	c.ID = newID()
	c.Number = int64(len(s.clients) + 1)
	c.LegalName, c.CommercialName, c.RFC = in.LegalName, in.CommercialName, in.RFC
	c.CreditDays, c.CreditAmount = in.CreditDays, in.CreditAmount.money()
	c.PriceList, c.PriceListID, c.Account = pl.Name, pl.ID, acct.Number
	c.Email, c.Telephones, c.Comments = in.Email, in.Telephone, in.Comment
	c.AccountNumber, c.DefaultDiscount, c.ClientSource = in.AccountNumber, in.DefaultDiscount.money(), in.Source
	if loc, ok := s.location(in.LocationID); ok {
		c.LoctaionID, c.Loctaion = loc.ID, loc.Name
	}
	c.CreationDate = bind.Time{Time: s.now()}
	c.Status = "Activo"
	if in.Address != nil {
		c.addresses = append(c.addresses, in.Address.model())
		c.Addresses = append(c.Addresses, newID())
		c.City, c.State = in.Address.City, in.Address.State
	}
	s.clients = append(s.clients, c)
	writeJSON(w, http.StatusOK, c.ID)
}

func (s *Sim) getOrder(w http.ResponseWriter, id string) {
	s.mu.Lock()
	_, o := s.findOrder(id)
	var d orderDetails
	if o != nil {
		d = orderDetailsOf(o)
	}
	s.mu.Unlock()
	if o == nil {
		notFound(w, "order", id)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

var statusText = map[int32]string{bind.OrderActive: "Activo", bind.OrderFulfilled: "Surtido", bind.OrderCancelled: "Cancelado"}

// createOrder stores a new order captured by the key's user (nothing can override that), with
// its amounts computed by orderAmountsOf under the company's Rounding.
func (s *Sim) createOrder(w http.ResponseWriter, body []byte, profile bind.UserProfile) {
	var in newOrder
	if !decodeBody(w, body, &in) {
		return
	}
	if len(in.Services) > 0 {
		// The sync never sends services, and the simulator has no service catalogue to check
		// them against; accepting them unchecked would be a leniency Bind does not have.
		writeError(w, http.StatusBadRequest, "The request is invalid. The simulator has no services; send products only.")
		return
	}
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	c := s.findClient(in.ClientID)
	if c == nil {
		writeError(w, http.StatusBadRequest, "The client '"+in.ClientID+"' does not exist.")
		return
	}
	if !slices.ContainsFunc(c.Addresses, func(a string) bool { return strings.EqualFold(a, in.AddressID) }) {
		writeError(w, http.StatusBadRequest, "The address '"+in.AddressID+"' does not belong to the client.")
		return
	}
	cur, okCur := s.currency(in.CurrencyID)
	pl, okPL := s.priceList(in.PriceListID)
	loc, okLoc := s.location(in.LocationID)
	wh, okWH := s.warehouse(in.WarehouseID)
	switch {
	case !okCur:
		writeError(w, http.StatusBadRequest, "The currency '"+in.CurrencyID+"' does not exist.")
		return
	case !okPL:
		writeError(w, http.StatusBadRequest, "The price list '"+in.PriceListID+"' does not exist.")
		return
	case !okLoc:
		writeError(w, http.StatusBadRequest, "The location '"+in.LocationID+"' does not exist.")
		return
	case !okWH:
		writeError(w, http.StatusBadRequest, "The warehouse '"+in.WarehouseID+"' does not exist.")
		return
	}
	vatRate := s.DefaultVATRate
	if in.VATRate != nil {
		vatRate = in.VATRate.money()
	}
	o := &bind.OrderDetails{StatusCode: bind.OrderActive, Status: statusText[bind.OrderActive]}
	lines := make([]amountLine, 0, len(in.Products))
	iepsRates := map[string]money.Decimal{}
	for i, line := range in.Products {
		p := s.findProduct(line.ID)
		if p == nil {
			writeError(w, http.StatusBadRequest, "The request is invalid. Products["+strconv.Itoa(i)+"]: the product '"+line.ID+"' does not exist.")
			return
		}
		if line.IEPSType != nil && *line.IEPSType != 0 {
			// What the other IEPS types mean (a fixed amount per unit, per litre…) is not published;
			// the simulator knows only a rate, and refuses to guess.
			writeError(w, http.StatusBadRequest, "The request is invalid. Products["+strconv.Itoa(i)+"].IEPSType: only 0 (a rate) is simulated.")
			return
		}
		price, qty, ieps := line.Price.money(), line.Qty.money(), line.IEPS.money()
		if ieps.IsNegative() {
			writeError(w, http.StatusBadRequest, "The request is invalid. Products["+strconv.Itoa(i)+"].IEPS must not be negative.")
			return
		}
		lines = append(lines, amountLine{price: price, qty: qty, ieps: ieps, exempt: line.VATExempt})
		if !ieps.IsZero() {
			iepsRates[ieps.String()] = ieps
		}
		o.Products = append(o.Products, bind.OrderDetailsProduct{
			ProductID: p.ID, Name: p.Title, Code: p.Code, Unit: p.Unit, IndexNumber: int32(i + 1),
			UnitMultiplier: money.NewFromInt(1), Qty: qty, Price: price, Comments: line.Comments, IEPSRate: ieps,
		})
	}
	amounts := orderAmountsOf(lines, nil, in.DiscountAmount.money(), vatRate, s.rounding)
	// The header shows one IEPS rate; with several, which one Bind shows is not published, and
	// the simulator shows none.
	if len(iepsRates) == 1 {
		for _, r := range iepsRates {
			o.IEPSRATE = r
		}
	}
	o.IEPS = amounts.ieps

	s.nextNumber++
	o.ID = newID()
	o.Number = s.nextNumber
	o.ClientID, o.ClientName, o.RFC = c.ID, c.CommercialName, c.RFC
	o.PriceListID, o.PriceListName = pl.ID, pl.Name
	o.LocationID, o.LocationName = loc.ID, loc.Name
	o.WarehouseID, o.WarehouseName = wh.ID, wh.Name
	o.CurrencyID, o.CurrencyName = cur.ID, cur.Name
	o.ExchangeRate = money.NewFromInt(1)
	if !in.ExchangeRate.IsZero() {
		o.ExchangeRate = in.ExchangeRate.money()
	}
	o.OrderDate = bind.Time{Time: in.OrderDate.Time}
	o.Comments = in.Comments
	o.PurchaseOrder = in.PurchaseOrder
	o.EmployeeID, o.EmployeeName = profile.UserID, profile.Name
	o.Address = strings.TrimSpace(strings.Join([]string{c.City, c.State}, ", "))
	o.ProductSubtotal, o.ServiceSubtotal, o.Discount = amounts.productSubtotal, amounts.serviceSubtotal, amounts.discount
	o.VATRate, o.VAT, o.Total = vatRate, amounts.vat, amounts.total
	o.DiscountType = 1
	s.orders = append(s.orders, o)
	writeJSON(w, http.StatusOK, o.ID)
}

func (s *Sim) deleteOrder(w http.ResponseWriter, id string) {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	i, o := s.findOrder(id)
	if o == nil {
		notFound(w, "order", id)
		return
	}
	switch {
	case o.StatusCode == bind.OrderFulfilled:
		// What Bind does with a fulfilled order is not published. The simulator takes the answer
		// that is hardest on a client: the DELETE is accepted and nothing changes, so only reading
		// the order back shows that it was not deleted.
	case s.DeleteMode == DeleteRemoves:
		s.orders = append(s.orders[:i], s.orders[i+1:]...)
	default:
		o.StatusCode, o.Status = bind.OrderCancelled, statusText[bind.OrderCancelled]
	}
	w.WriteHeader(http.StatusNoContent)
}
