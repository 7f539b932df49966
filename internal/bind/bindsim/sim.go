// Package bindsim is an in-memory Bind ERP company behind an http.Handler, for tests, benchmarks
// and the demo. It answers as Bind's reference describes, quirks included: Bearer auth, OData
// lists of at most 100 with absolute nextLinks and a total count, creates that answer 200 with the
// bare id string, edits and deletes that answer 204, no deduplication on any POST, an order DELETE
// that cancels (StatusCode 2, still listed) unless told to remove, totals computed Bind's way
// (net line prices, VAT on top). Faults can be injected per route.
//
// Its bodies are its own wire types (wire.go), written from Bind's official definition rather
// than shared with the client, and it refuses request properties the definition does not name:
// a client that misspells a JSON name fails against the simulator as it would against Bind.
package bindsim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/simkit"
)

// PageSize is the most a list answers at once.
const PageSize = 100

// MXN is the currency id that appears across unrelated Bind companies.
const MXN = "b7e2c065-bd52-40ca-b508-3accdd538860"

// DeleteMode says what DELETE /api/Orders/{id} does; the reference allows both.
type DeleteMode int

const (
	// DeleteCancels sets the order's status to cancelled (2) and keeps it in lists.
	DeleteCancels DeleteMode = iota
	// DeleteRemoves removes the order; a later GET answers 404.
	DeleteRemoves
)

// Sim is one in-memory Bind company.
type Sim struct {
	mu sync.Mutex

	// The model. Catalogs are held as the wire types they are listed as; products, clients and
	// orders in the client's types, which the Go helpers below hand to tests.
	tokens     map[string]bind.UserProfile
	priceLists []priceList
	currencies []currency
	locations  []location
	warehouses []warehouse
	accounts   []account
	users      []user
	products   []*productRecord
	clients    []*clientRecord
	orders     []*bind.OrderDetails
	nextNumber int64
	// version counts the times the model was locked to change; lists keeps, per list query
	// without $skip and $top, the filtered and ordered items of the version it was built at, so
	// that reading a long list page by page does not filter and sort it again for every page.
	version uint64
	lists   map[string]cachedList

	// DeleteMode is read on every DELETE of an order.
	DeleteMode DeleteMode
	// DefaultVATRate applies to orders that leave VATRate out [0.16].
	DefaultVATRate money.Decimal
	rounding       Rounding
	omitNextLink   bool

	simkit.Recorder
	now func() time.Time
}

type productRecord struct {
	bind.ProductDetails
	prices map[string]money.Decimal // price-list id → net price
}

type clientRecord struct {
	bind.ClientDetails
	addresses []bind.NewAddress
}

// Option configures a company on creation, for behaviours of Bind the reference leaves open.
type Option func(*Sim)

// WithRounding sets when order amounts are rounded to cents [RoundOnce].
func WithRounding(r Rounding) Option { return func(s *Sim) { s.rounding = r } }

// WithoutNextLink leaves nextLink out of every page, as an OData server may; a client must then
// page by $skip until a page comes back short. By default every page but the last has one.
func WithoutNextLink() Option { return func(s *Sim) { s.omitNextLink = true } }

// New returns an empty company: no tokens, no catalogs. Seed it with the Add methods.
func New(opts ...Option) *Sim {
	s := &Sim{
		tokens:         map[string]bind.UserProfile{},
		nextNumber:     1000,
		DefaultVATRate: money.MustParse("0.16"),
		now:            func() time.Time { return time.Now().UTC() },
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func newID() string { return uuid.NewString() }

// AddToken lets a key in as the given user; an empty profile gets a made-up user.
func (s *Sim) AddToken(token string, p bind.UserProfile) bind.UserProfile {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	if p.UserID == "" {
		p.UserID = newID()
	}
	if p.CompanyID == "" {
		p.CompanyID = newID()
	}
	if p.Username == "" {
		p.Username = "admin"
	}
	if p.Roles == nil {
		p.Roles = []string{"Administrador"}
	}
	s.tokens[token] = p
	if !slices.ContainsFunc(s.users, func(u user) bool { return u.ID == p.UserID }) {
		s.users = append(s.users, user{ID: p.UserID, FullName: p.Name, Email: p.Email, UserName: p.Username})
	}
	return p
}

// RevokeToken makes a key answer 401 from now on.
func (s *Sim) RevokeToken(token string) {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// AddPriceList adds a price list and returns its id.
func (s *Sim) AddPriceList(name string) string {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	id := newID()
	s.priceLists = append(s.priceLists, priceList{ID: id, Name: name})
	return id
}

// AddCurrency adds a currency; the code "MXN" gets Bind's well-known MXN id.
func (s *Sim) AddCurrency(code, name string) string {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	id := newID()
	if code == "MXN" {
		id = MXN
	}
	s.currencies = append(s.currencies, currency{ID: id, Code: code, Name: name, ExchangeRate: numberOf(money.NewFromInt(1))})
	return id
}

// AddLocation adds a location (sucursal) and returns its id.
func (s *Sim) AddLocation(name string) string {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	id := newID()
	s.locations = append(s.locations, location{ID: id, Name: name, City: "Monterrey", State: "Nuevo León"})
	return id
}

// AddWarehouse adds a warehouse of a location and returns its id.
func (s *Sim) AddWarehouse(name, locationID string) string {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	id := newID()
	s.warehouses = append(s.warehouses, warehouse{ID: id, Name: name, LocationID: locationID})
	return id
}

// AddAccount adds a ledger account and returns its id.
func (s *Sim) AddAccount(number, description string) string {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	id := newID()
	s.accounts = append(s.accounts, account{ID: id, Number: number, Description: description, GLGroup: "Activo", Group: "Activo circulante", SubGroup: "Clientes"})
	return id
}

// AddUser adds a user and returns its id.
func (s *Sim) AddUser(fullName, email string) string {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	id := newID()
	s.users = append(s.users, user{ID: id, FullName: fullName, Email: email, UserName: email})
	return id
}

// SetPrice sets a product's net price in a price list, as a person would in Bind's web app
// (the public API cannot).
func (s *Sim) SetPrice(productID, priceListID string, net money.Decimal) error {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	p := s.findProduct(productID)
	if p == nil {
		return fmt.Errorf("bindsim: no product %s", productID)
	}
	p.prices[priceListID] = net
	return nil
}

// Orders returns a copy of every order, cancelled ones included, in creation order.
// FulfillOrder marks an order fulfilled ("Surtido", status 1), as a warehouse does when the goods
// leave. It reports whether the order exists.
func (s *Sim) FulfillOrder(id string) bool {
	s.mu.Lock()
	s.version++ // any change may alter a list: cached pages are stale
	defer s.mu.Unlock()
	_, o := s.findOrder(id)
	if o == nil {
		return false
	}
	o.StatusCode, o.Status = bind.OrderFulfilled, statusText[bind.OrderFulfilled]
	return true
}

func (s *Sim) Orders() []bind.OrderDetails {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bind.OrderDetails, len(s.orders))
	for i, o := range s.orders {
		out[i] = *o
	}
	return out
}

// Clients returns a copy of every client.
func (s *Sim) Clients() []bind.ClientDetails {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bind.ClientDetails, len(s.clients))
	for i, c := range s.clients {
		out[i] = c.ClientDetails
	}
	return out
}

// Products returns a copy of every product.
func (s *Sim) Products() []bind.ProductDetails {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bind.ProductDetails, len(s.products))
	for i, p := range s.products {
		out[i] = s.productModel(p)
	}
	return out
}

// Fault is a misbehaviour injected into the next requests of one route, e.g.
// Inject("POST /api/Orders", Fault{LoseResponse: true}).
type Fault = simkit.Fault

// Request is one logged request with its response.
type Request = simkit.Request

var guidSegment = regexp.MustCompile(`(?i)^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// canonical maps a request path to its route pattern: paths are matched without regard to case,
// as ASP.NET does, and a GUID segment becomes {id}.
func canonical(path string) (pattern, id string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	names := map[string]string{
		"api": "api", "userprofile": "UserProfile", "pricelists": "PriceLists", "currencies": "Currencies",
		"warehouses": "Warehouses", "locations": "Locations", "accounts": "Accounts", "users": "Users",
		"products": "Products", "productspriceandinventory": "ProductsPriceAndInventory",
		"clients": "Clients", "orders": "Orders",
	}
	for i, seg := range segs {
		if n, ok := names[strings.ToLower(seg)]; ok {
			segs[i] = n
		} else if guidSegment.MatchString(seg) {
			id = seg
			segs[i] = "{id}"
		}
	}
	return "/" + strings.Join(segs, "/"), id
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pattern, id := canonical(r.URL.Path)
	route := r.Method + " " + pattern
	body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	s.Serve(w, r, route, body, func(w http.ResponseWriter) {
		profile, ok := s.authenticate(r)
		if !ok {
			writeError(w, http.StatusUnauthorized, "Authorization has been denied for this request.")
			return
		}
		s.route(w, r, route, id, body, profile)
	}, func(w http.ResponseWriter, status int) {
		writeError(w, status, http.StatusText(status))
	})
}

func (s *Sim) authenticate(r *http.Request) (bind.UserProfile, bool) {
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return bind.UserProfile{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.tokens[token]
	return p, ok
}

func (s *Sim) route(w http.ResponseWriter, r *http.Request, route, id string, body []byte, profile bind.UserProfile) {
	switch route {
	case "GET /api/UserProfile":
		writeJSON(w, http.StatusOK, userProfileOf(profile))
	case "GET /api/PriceLists":
		list(s, w, r, func() []priceList { return slices.Clone(s.priceLists) })
	case "GET /api/Currencies":
		list(s, w, r, func() []currency { return slices.Clone(s.currencies) })
	case "GET /api/Locations":
		list(s, w, r, func() []location { return slices.Clone(s.locations) })
	case "GET /api/Warehouses":
		list(s, w, r, func() []warehouse { return slices.Clone(s.warehouses) })
	case "GET /api/Accounts":
		list(s, w, r, func() []account { return slices.Clone(s.accounts) })
	case "GET /api/Users":
		list(s, w, r, func() []user { return slices.Clone(s.users) })
	case "GET /api/Products":
		list(s, w, r, func() []product { return each(s.products, productOf) })
	case "GET /api/Products/{id}":
		s.getProduct(w, id)
	case "POST /api/Products":
		s.createProduct(w, body)
	case "PUT /api/Products":
		s.editProduct(w, body)
	case "GET /api/ProductsPriceAndInventory":
		s.priceAndInventory(w, r)
	case "GET /api/Clients":
		list(s, w, r, func() []clientListItem { return each(s.clients, clientListItemOf) })
	case "GET /api/Clients/{id}":
		s.getClient(w, id)
	case "POST /api/Clients":
		s.createClient(w, body)
	case "GET /api/Orders":
		list(s, w, r, func() []orderListItem { return each(s.orders, orderListItemOf) })
	case "GET /api/Orders/{id}":
		s.getOrder(w, id)
	case "POST /api/Orders":
		s.createOrder(w, body, profile)
	case "DELETE /api/Orders/{id}":
		s.deleteOrder(w, id)
	default:
		writeError(w, http.StatusNotFound, "No HTTP resource was found that matches the request URI '"+r.URL.Path+"'.")
	}
}

// cachedList is a list query's selected items at a version of the model.
type cachedList struct {
	version uint64
	rows    any
}

// list answers a list route with the wire items f builds under the simulator's lock.
func list[T any](s *Sim, w http.ResponseWriter, r *http.Request, f func() []T) {
	q := r.URL.Query()
	page := url.Values{}
	for k, v := range q {
		if k != "$skip" && k != "$top" {
			page[k] = v
		}
	}
	key := r.URL.Path + "?" + page.Encode()
	s.mu.Lock()
	c, ok := s.lists[key]
	current := s.version
	s.mu.Unlock()
	if ok && c.version == current {
		writePage(w, r, !s.omitNextLink, q, c.rows.([]T))
		return
	}
	var at uint64
	items := locked(s, func() []T { at = s.version; return f() })
	rows, ok := selectRows(w, q, items)
	if !ok {
		return
	}
	s.mu.Lock()
	if s.lists == nil {
		s.lists = map[string]cachedList{}
	}
	if len(s.lists) > 64 {
		clear(s.lists)
	}
	s.lists[key] = cachedList{version: at, rows: rows}
	s.mu.Unlock()
	writePage(w, r, !s.omitNextLink, q, rows)
}

// each maps every record of the model to its wire form.
func each[R, W any](records []R, wire func(R) W) []W {
	out := make([]W, len(records))
	for i, r := range records {
		out[i] = wire(r)
	}
	return out
}

// locked runs f under the simulator's lock.
func locked[T any](s *Sim, f func() T) T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the shape two independent Bind clients parse: {"Message": …}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"Message": msg})
}

// decodeBody reads a request body with decodeRequest, answering 400 as ASP.NET does when it
// refuses it.
func decodeBody(w http.ResponseWriter, body []byte, v any) bool {
	if err := decodeRequest(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "The request is invalid. "+err.Error())
		return false
	}
	return true
}
