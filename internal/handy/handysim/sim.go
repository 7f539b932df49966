// Package handysim is an in-memory Handy account behind an http.Handler, for tests, benchmarks and
// the demo. It answers as Handy's reference describes: Bearer auth, lists in pages (max capped at
// 100) with a pagination object of full-URL links, windows on the requested date field read as
// wall-clock time in the account's zone, 429 with X-RateLimit-* headers past a per-minute budget,
// and edits that delete the order and create a new one whose editedFrom is the old version.
//
// Its Go API (AddProduct, CreateSale…) takes and returns the client's types, but everything it
// writes to or reads from HTTP goes through its own wire types (wire.go), named from the
// reference, so that a field the client misnames is a field the client never receives.
package handysim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/simkit"
)

// What the simulator knows of Handy's API independently of the client: the date fields a window
// can filter on, the largest page, and the zone request windows are read in.
const (
	fieldDateCreated       = "dateCreated"
	fieldMobileDateCreated = "mobileDateCreated"
	fieldDateDeleted       = "dateDeleted"
	fieldLastUpdated       = "lastUpdated"

	maxPageSize     = 100
	defaultPageSize = 10
	defaultZone     = "America/Mexico_City"
	requestLayout   = "02/01/2006 15:04:05"
)

// Fault is a misbehaviour injected into the next requests of one route, e.g.
// Inject("GET /salesOrder", Fault{Status: 503}).
type Fault = simkit.Fault

// Sim is one in-memory Handy account.
type Sim struct {
	simkit.Recorder

	mu        sync.Mutex
	loc       *time.Location
	tokens    map[string]bool
	users     []*handy.User
	userStamp map[int64]time.Time // each user's lastUpdated
	products  []*handy.Product
	customers []*handy.Customer
	orders    []*handy.SalesOrder
	nextID    int64

	// RateLimit is how many requests a token may make per RateWindow [500 per minute].
	RateLimit  int
	RateWindow time.Duration
	windows    map[string]*rateWindow

	now func() time.Time
}

type rateWindow struct {
	start time.Time
	count int
}

// New returns an empty account whose request windows are read in loc (nil: America/Mexico_City).
func New(loc *time.Location) *Sim {
	if loc == nil {
		var err error
		if loc, err = time.LoadLocation(defaultZone); err != nil {
			panic(err)
		}
	}
	return &Sim{
		loc: loc, tokens: map[string]bool{}, userStamp: map[int64]time.Time{}, nextID: 1000, RateLimit: 500, RateWindow: time.Minute,
		windows: map[string]*rateWindow{}, now: func() time.Time { return time.Now().UTC() },
	}
}

// AddToken lets a token in.
func (s *Sim) AddToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = true
}

func (s *Sim) id() int64 { s.nextID++; return s.nextID }

// AddUser adds a user; ID is assigned.
func (s *Sim) AddUser(u handy.User) handy.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	u.ID = s.id()
	if u.Role == nil {
		u.Role = &handy.Role{ID: 4, Authority: "ROLE_SALES"}
	}
	s.userStamp[u.ID] = s.now()
	s.users = append(s.users, &u)
	return u
}

// IVA returns Mexico's VAT at the given percentage as a Handy tax.
func IVA(percent int64) *handy.Tax {
	return &handy.Tax{ID: percent, Name: "IVA", Amount: money.NewFromInt(percent), Enabled: true}
}

// IEPS returns Mexico's excise tax (impuesto especial sobre producción y servicios) at the given
// percentage, as a product's optional tax (taxOptional).
func IEPS(percent int64) *handy.Tax {
	return &handy.Tax{ID: 100 + percent, Name: "IEPS", Amount: money.NewFromInt(percent), Enabled: true}
}

// AddProduct adds an enabled product whose tax-inclusive price is basePrice × (1 + tax%), rounded
// to cents, as Handy shows it.
func (s *Sim) AddProduct(code, description string, basePrice money.Decimal, tax *handy.Tax, at time.Time) handy.Product {
	return s.AddProductWithOptionalTax(code, description, basePrice, tax, nil, at)
}

// AddProductWithOptionalTax adds an enabled product with a second, optional tax (taxOptional,
// such as IEPS). Its price, like Handy's product.price, includes both taxes: basePrice ×
// (1 + (tax% + optional%)/100), rounded to cents. A sale line carries the optional tax only when
// it asks for it (Line.OptionalTax).
func (s *Sim) AddProductWithOptionalTax(code, description string, basePrice money.Decimal, tax, optional *handy.Tax, at time.Time) handy.Product {
	s.mu.Lock()
	defer s.mu.Unlock()
	unit := "Pieza"
	p := &handy.Product{
		ID: s.id(), Code: code, Description: description, BasePrice: basePrice, Tax: tax, TaxOptional: optional,
		Price: withTax(basePrice, tax, optional), Enabled: true,
		Unit:        &handy.Unit{ID: 1, Code: "PZA", Description: &unit, Enabled: true},
		Family:      &handy.Ref{ID: 1, Description: "General", Enabled: true},
		DateCreated: handy.Time{Time: at}, LastUpdated: handy.Time{Time: at},
	}
	s.products = append(s.products, p)
	return *p
}

// UpdateProduct changes a product and stamps lastUpdated.
func (s *Sim) UpdateProduct(code string, at time.Time, change func(*handy.Product)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.products {
		if p.Code == code {
			change(p)
			p.Price = withTax(p.BasePrice, p.Tax, p.TaxOptional)
			p.LastUpdated = handy.Time{Time: at}
			return nil
		}
	}
	return fmt.Errorf("handysim: no product %q", code)
}

func withTax(base money.Decimal, tax, optional *handy.Tax) money.Decimal {
	rate := money.Zero
	for _, t := range []*handy.Tax{tax, optional} {
		if t != nil {
			rate = rate.Add(t.Amount)
		}
	}
	return base.Mul(money.NewFromInt(1).Add(rate.Div(money.NewFromInt(100)))).Cents()
}

// AddCustomer adds an enabled customer; ID is assigned. Handy requires a zone of every customer;
// one without gets the zone "General".
func (s *Sim) AddCustomer(c handy.Customer) handy.Customer {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.ID = s.id()
	c.Enabled = true
	if c.Zone == nil {
		c.Zone = &handy.Ref{ID: 1, Description: "General", Enabled: true}
	}
	s.customers = append(s.customers, &c)
	return c
}

// Line is one line of a sale to create.
type Line struct {
	Product         string
	Quantity        money.Decimal
	DiscountPercent money.Decimal
	Comments        string
	// OptionalTax makes the line carry its product's optional tax (taxOptional): its prices then
	// include it, and totalBeforeTax takes it out. Without it, the line is priced with the
	// product's tax alone, and its taxOptional is null.
	OptionalTax bool
}

// Sale is a sale to create.
type Sale struct {
	Customer string // customer code
	Seller   int64  // user id
	Lines    []Line
	// At is when the sale reached Handy (dateCreated); MobileAt when it was captured, earlier for
	// a device that was offline [At].
	At, MobileAt time.Time
	Comment      string
}

// CreateSale records a sale as Handy would: originalPrice = basePrice × (1 + rate%) to the cent,
// where rate is the product's tax plus, on a line that carries it, its optional tax; line price =
// originalPrice × (1 − discount%) to the cent; line total = price × quantity; totalSales = Σ
// totals; totalBeforeTax = Σ total ÷ (1 + rate%), rounded once; totalTax = the difference.
func (s *Sim) CreateSale(in Sale) (handy.SalesOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.buildSale(in)
	if err != nil {
		return handy.SalesOrder{}, err
	}
	s.orders = append(s.orders, o)
	return *o, nil
}

func (s *Sim) buildSale(in Sale) (*handy.SalesOrder, error) {
	cust := find(s.customers, func(c *handy.Customer) bool { return c.Code == in.Customer })
	seller := find(s.users, func(u *handy.User) bool { return u.ID == in.Seller })
	if cust == nil || seller == nil {
		return nil, fmt.Errorf("handysim: unknown customer %q or seller %d", in.Customer, in.Seller)
	}
	if in.MobileAt.IsZero() {
		in.MobileAt = in.At
	}
	o := &handy.SalesOrder{
		ID: s.id(), DateCreated: handy.Time{Time: in.At.UTC()}, MobileDateCreated: handy.Time{Time: in.MobileAt.UTC()},
		Customer: *cust, CreatedBy: *seller, PriceList: cust.PriceList, CreationSource: "MOBILE", SalesType: "Preventa",
		Type: &handy.Ref{ID: 1, Description: "Pedido", Enabled: true}, OperativeStatus: "PENDING_DELIVERY",
	}
	if in.Comment != "" {
		o.SellerComment = &in.Comment
	}
	hundred := money.NewFromInt(100)
	beforeTax := money.Zero
	for _, l := range in.Lines {
		p := find(s.products, func(p *handy.Product) bool { return p.Code == l.Product })
		if p == nil {
			return nil, fmt.Errorf("handysim: unknown product %q", l.Product)
		}
		var optional *handy.Tax
		if l.OptionalTax {
			if p.TaxOptional == nil {
				return nil, fmt.Errorf("handysim: product %q has no optional tax", l.Product)
			}
			optional = p.TaxOptional
		}
		original := withTax(p.BasePrice, p.Tax, optional)
		price := original.Mul(money.NewFromInt(1).Sub(l.DiscountPercent.Div(hundred))).Cents()
		total := price.Mul(l.Quantity).Cents()
		item := handy.SalesOrderItem{
			ID: s.id(), Product: *p, Quantity: l.Quantity, Price: price, Total: total, OriginalPrice: original,
			DiscountPercentage: l.DiscountPercent, Tax: p.Tax, TaxOptional: optional, PriceType: "REGULAR",
		}
		if !l.DiscountPercent.IsZero() {
			d := "Descuento de " + string(dbl(l.DiscountPercent)) + "% para cliente"
			item.Discount = &d
		}
		if l.Comments != "" {
			item.Comments = &l.Comments
		}
		rate := money.Zero
		for _, t := range []*handy.Tax{p.Tax, optional} {
			if t != nil {
				rate = rate.Add(t.Amount)
			}
		}
		beforeTax = beforeTax.Add(total.Div(money.NewFromInt(1).Add(rate.Div(hundred))))
		o.TotalSales = o.TotalSales.Add(total)
		o.Items = append(o.Items, item)
	}
	o.TotalBeforeTax = beforeTax.Cents()
	o.TotalTax = o.TotalSales.Sub(o.TotalBeforeTax)
	return o, nil
}

// EditSale replaces a sale as Handy does: the old order is deleted (isEdited, dateDeleted = the
// new order's dateCreated, deletedBy = the editor) and a new order with a new id carries it in
// editedFrom.
func (s *Sim) EditSale(id int64, in Sale) (handy.SalesOrder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := find(s.orders, func(o *handy.SalesOrder) bool { return o.ID == id })
	if old == nil || old.Deleted {
		return handy.SalesOrder{}, fmt.Errorf("handysim: no live order %d", id)
	}
	o, err := s.buildSale(in)
	if err != nil {
		return handy.SalesOrder{}, err
	}
	editor := find(s.users, func(u *handy.User) bool { return u.ID == in.Seller })
	old.Deleted, old.IsEdited, old.DateDeleted, old.DeletedBy = true, true, o.DateCreated, editor
	prev := *old
	o.EditedFrom = &prev
	s.orders = append(s.orders, o)
	return *o, nil
}

// DeleteSale deletes a sale at the given time, by the given user.
func (s *Sim) DeleteSale(id int64, at time.Time, by int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := find(s.orders, func(o *handy.SalesOrder) bool { return o.ID == id })
	if o == nil || o.Deleted {
		return fmt.Errorf("handysim: no live order %d", id)
	}
	o.Deleted, o.DateDeleted = true, handy.Time{Time: at.UTC()}
	o.DeletedBy = find(s.users, func(u *handy.User) bool { return u.ID == by })
	return nil
}

// Orders returns a copy of every order, deleted ones included.
func (s *Sim) Orders() []handy.SalesOrder {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]handy.SalesOrder, len(s.orders))
	for i, o := range s.orders {
		out[i] = *o
	}
	return out
}

func find[T any](items []*T, match func(*T) bool) *T {
	for _, it := range items {
		if match(it) {
			return it
		}
	}
	return nil
}

// ServeHTTP implements http.Handler. Paths may carry the /api/v2 prefix or not.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v2")
	route, arg := canonical(path)
	route = r.Method + " " + route
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	s.Serve(w, r, route, body, func(w http.ResponseWriter) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		known := ok && s.tokens[token]
		s.mu.Unlock()
		if !known {
			writeErrors(w, http.StatusUnauthorized, "", "", "Token inválido o revocado")
			return
		}
		if !s.allow(w, token) {
			return
		}
		s.route(w, r, route, arg, body)
	}, func(w http.ResponseWriter, status int) {
		writeErrors(w, status, "", "", http.StatusText(status))
	})
}

// allow enforces the per-token budget in fixed windows and sets Handy's rate-limit headers.
func (s *Sim) allow(w http.ResponseWriter, token string) bool {
	s.mu.Lock()
	now := s.now()
	win := s.windows[token]
	if win == nil || now.Sub(win.start) >= s.RateWindow {
		win = &rateWindow{start: now}
		s.windows[token] = win
	}
	win.count++
	remaining := max(s.RateLimit-win.count, 0)
	reset := win.start.Add(s.RateWindow)
	over := win.count > s.RateLimit
	s.mu.Unlock()
	h := w.Header()
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.RateLimit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	// A whole second, rounded up, so that waiting until it always lands in the next window.
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Add(time.Second-1).Unix(), 10))
	if over {
		writeErrors(w, http.StatusTooManyRequests, "", "", "Too Many Requests")
		return false
	}
	return true
}

func canonical(path string) (route, arg string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(segs) == 2 && segs[0] == "salesOrder":
		return "/salesOrder/{id}", segs[1]
	case len(segs) == 3 && segs[0] == "salesOrder" && segs[1] == "external":
		return "/salesOrder/external/{id}", segs[2]
	case len(segs) == 2 && segs[0] == "customer":
		return "/customer/{code}", segs[1]
	}
	return "/" + strings.Join(segs, "/"), ""
}

func (s *Sim) route(w http.ResponseWriter, r *http.Request, route, arg string, body []byte) {
	q := r.URL.Query()
	switch route {
	case "GET /user":
		enabled := q.Get("enabled") != "false"
		role, _ := strconv.ParseInt(q.Get("role"), 10, 64)
		page(w, r, "users", collect(s, s.users, func(u *handy.User) bool {
			return u.Enabled == enabled && (role == 0 || (u.Role != nil && u.Role.ID == role))
		}, s.toWireUser))
	case "GET /product":
		field, from, to, ok := s.windowOf(w, q, fieldLastUpdated, func(f string) bool { _, ok := productDate(&handy.Product{}, f); return ok })
		if !ok {
			return
		}
		enabled := q.Get("enabled") != "false"
		page(w, r, "products", collect(s, s.products, func(p *handy.Product) bool {
			t, _ := productDate(p, field)
			return p.Enabled == enabled && (field == "" || inWindow(t, from, to))
		}, toWireProduct))
	case "GET /customer":
		page(w, r, "customers", collect(s, s.customers, func(c *handy.Customer) bool { return c.Enabled }, toWireCustomer))
	case "GET /customer/{code}":
		code, _ := url.PathUnescape(arg)
		if c := collect(s, s.customers, func(c *handy.Customer) bool { return c.Code == code }, toWireCustomer); len(c) > 0 {
			writeJSON(w, http.StatusOK, c[0])
			return
		}
		writeErrors(w, http.StatusNotFound, "", "", "Cliente no encontrado")
	case "GET /salesOrder":
		s.listOrders(w, r)
	case "GET /salesOrder/{id}":
		id, _ := strconv.ParseInt(arg, 10, 64)
		s.oneOrder(w, func(o *handy.SalesOrder) bool { return o.ID == id })
	case "GET /salesOrder/external/{id}":
		ext, _ := strconv.ParseInt(arg, 10, 64)
		s.oneOrder(w, func(o *handy.SalesOrder) bool { return o.ExternalID != nil && *o.ExternalID == ext })
	case "PUT /salesOrder/{id}":
		s.setExternalID(w, arg, body)
	default:
		writeErrors(w, http.StatusNotFound, "", "", "Not found: "+r.URL.Path)
	}
}

// collect converts the records that keep accepts to what goes on the wire, under the lock, so
// that nothing changes while a record is read.
func collect[T, W any](s *Sim, items []*T, keep func(*T) bool, conv func(*T) W) []W {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []W{}
	for _, it := range items {
		if keep(it) {
			out = append(out, conv(it))
		}
	}
	return out
}

func productDate(p *handy.Product, f string) (time.Time, bool) {
	switch f {
	case fieldLastUpdated:
		return p.LastUpdated.Time, true
	case fieldDateCreated:
		return p.DateCreated.Time, true
	}
	return time.Time{}, false
}

func inWindow(t, start, end time.Time) bool {
	return !t.IsZero() && (start.IsZero() || !t.Before(start)) && (end.IsZero() || !t.After(end))
}

// windowOf reads filterWithDate, start and end: wall-clock times in the account's zone, both
// bounds included. valid says which date fields the list knows. No start and no end means no
// window (field ""). A bad value is answered with 422 and ok=false.
func (s *Sim) windowOf(w http.ResponseWriter, q url.Values, def string, valid func(string) bool) (field string, start, end time.Time, ok bool) {
	if q.Get("start") == "" && q.Get("end") == "" {
		return "", time.Time{}, time.Time{}, true
	}
	field = q.Get("filterWithDate")
	if field == "" {
		field = def
	}
	if !valid(field) {
		writeErrors(w, http.StatusUnprocessableEntity, "filterWithDate", field, "El campo de fecha no es válido")
		return "", time.Time{}, time.Time{}, false
	}
	var bounds [2]time.Time
	for i, name := range []string{"start", "end"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, err := time.ParseInLocation(requestLayout, v, s.loc)
		if err != nil {
			writeErrors(w, http.StatusUnprocessableEntity, name, v, "La fecha debe tener el formato dd/MM/yyyy HH:mm:ss")
			return "", time.Time{}, time.Time{}, false
		}
		bounds[i] = t
	}
	return field, bounds[0], bounds[1], true
}

func orderDate(o *handy.SalesOrder, f string) (time.Time, bool) {
	switch f {
	case fieldDateCreated:
		return o.DateCreated.Time, true
	case fieldMobileDateCreated:
		return o.MobileDateCreated.Time, true
	case fieldDateDeleted:
		return o.DateDeleted.Time, true
	}
	return time.Time{}, false
}

func (s *Sim) listOrders(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	field, start, end, ok := s.windowOf(w, q, fieldDateCreated, func(f string) bool { _, ok := orderDate(&handy.SalesOrder{}, f); return ok })
	if !ok {
		return
	}
	deleted := q.Get("deleted") == "true"
	// Only the page's orders are converted, and nothing is copied but pointers: a long history
	// is neither copied nor turned into JSON for every page read. The lock is held until the page
	// is written, so that nothing changes while a record is read.
	s.mu.Lock()
	defer s.mu.Unlock()
	var orders []*handy.SalesOrder
	for _, o := range s.orders {
		if o.Deleted != deleted {
			continue
		}
		if field != "" {
			if t, _ := orderDate(o, field); !inWindow(t, start, end) {
				continue
			}
		}
		orders = append(orders, o)
	}
	if q.Get("order") == "desc" {
		slices.Reverse(orders)
	}
	pageOf(w, r, "salesOrders", orders, toWireSalesOrder)
}

func (s *Sim) oneOrder(w http.ResponseWriter, match func(*handy.SalesOrder) bool) {
	if o := collect(s, s.orders, match, toWireSalesOrder); len(o) > 0 {
		writeJSON(w, http.StatusOK, o[0])
		return
	}
	writeErrors(w, http.StatusNotFound, "", "", "Pedido no encontrado")
}

// setExternalID applies PUT /salesOrder/{id}. The body must be exactly {"externalId": <integer>}
// (see readExternalID): a misnamed or extra property is refused, never silently ignored. The
// answer is the updated order.
func (s *Sim) setExternalID(w http.ResponseWriter, arg string, body []byte) {
	ext, err := readExternalID(body)
	if err != nil {
		writeErrors(w, http.StatusUnprocessableEntity, "externalId", string(body), "externalId es obligatorio, es un número entero y es la única propiedad que se puede cambiar")
		return
	}
	id, _ := strconv.ParseInt(arg, 10, 64)
	s.mu.Lock()
	var out *wireSalesOrder
	if o := find(s.orders, func(o *handy.SalesOrder) bool { return o.ID == id }); o != nil {
		o.ExternalID = &ext
		wo := toWireSalesOrder(o)
		out = &wo
	}
	s.mu.Unlock()
	if out == nil {
		writeErrors(w, http.StatusNotFound, "", "", "Pedido no encontrado")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// page answers a list page: page is 1-based, max defaults to 10 and is capped at 100; the
// pagination links are full URLs, null where there is no such page. Only the page is encoded.
func page[T any](w http.ResponseWriter, r *http.Request, field string, items []T) {
	pageOf(w, r, field, items, func(t T) T { return t })
}

// pageOf is page with each item of the page, and only of the page, converted for the wire.
func pageOf[T, W any](w http.ResponseWriter, r *http.Request, field string, items []T, conv func(T) W) {
	q := r.URL.Query()
	pageNo, err := strconv.Atoi(q.Get("page"))
	if err != nil || pageNo < 1 {
		pageNo = 1
	}
	size, err := strconv.Atoi(q.Get("max"))
	if err != nil || size < 1 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)
	total := len(items)
	pages := (total + size - 1) / size
	from, to := min((pageNo-1)*size, total), min(pageNo*size, total)

	link := func(n int) *string {
		if n < 1 || n > pages {
			return nil
		}
		lq := url.Values{}
		for k, v := range q {
			lq[k] = v
		}
		lq.Set("page", strconv.Itoa(n))
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		u := scheme + "://" + r.Host + r.URL.Path + "?" + lq.Encode()
		return &u
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"pagination": wirePagination{
			TotalCount: int64(total), TotalPages: int64(pages), CurrentPage: link(pageNo),
			NextPage: link(pageNo + 1), PrevPage: link(pageNo - 1), FirstPage: link(1), LastPage: link(pages),
		},
		field: convertAll(items[from:to], conv),
	})
}

func convertAll[T, W any](items []T, conv func(T) W) []W {
	out := make([]W, len(items))
	for i, it := range items {
		out[i] = conv(it)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeErrors answers in Handy's 422 shape: {"errors":[{object, field, rejected-value, message}]}.
func writeErrors(w http.ResponseWriter, status int, field, rejected, msg string) {
	writeJSON(w, status, wireErrorBody{Errors: []wireError{{
		Object: "com.locus.api", Field: field, RejectedValue: rejected, Message: msg,
	}}})
}
