package bind_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/money"
)

const token = "test-key"

// company is a seeded simulator behind a real HTTP server, with a client for it.
type company struct {
	sim                                    *bindsim.Sim
	srv                                    *httptest.Server
	c                                      *bind.Client
	user                                   bind.UserProfile
	general, mayoreo, mxn, matriz, almacen string
	norte, almacenNorte, account, account2 string
}

func newCompany(t testing.TB, opts ...func(*bind.Options)) *company {
	t.Helper()
	return newCompanyOf(t, bindsim.New(), opts...)
}

// newCompanyOf seeds a given simulator, for one built with options.
func newCompanyOf(t testing.TB, s *bindsim.Sim, opts ...func(*bind.Options)) *company {
	t.Helper()
	co := &company{sim: s}
	co.user = s.AddToken(token, bind.UserProfile{Name: "Ana Admin", Email: "ana@example.com", CompanyName: "Distribuidora del Norte"})
	co.general = s.AddPriceList("Lista General")
	co.mayoreo = s.AddPriceList("Mayoreo")
	co.mxn = s.AddCurrency("MXN", "Peso mexicano")
	s.AddCurrency("USD", "Dólar")
	co.matriz = s.AddLocation("Matriz")
	co.almacen = s.AddWarehouse("Almacén Matriz", co.matriz)
	co.norte = s.AddLocation("Sucursal Norte")
	co.almacenNorte = s.AddWarehouse("Almacén Norte", co.norte)
	co.account = s.AddAccount("105-01-001", "Clientes nacionales")
	co.account2 = s.AddAccount("105-01-002", "Clientes mostrador")
	s.AddUser("Beto Ventas", "beto@example.com")
	co.srv = httptest.NewServer(s)
	t.Cleanup(co.srv.Close)
	o := bind.Options{
		BaseURL: co.srv.URL, Token: token,
		RequestsPerSecond: 10000, Burst: 100,
		RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond,
		AttemptTimeout: 2 * time.Second,
	}
	for _, f := range opts {
		f(&o)
	}
	c, err := bind.New(o)
	require.NoError(t, err)
	co.c = c
	return co
}

func (co *company) product(t *testing.T, code, title string, price string) string {
	t.Helper()
	id, err := co.c.CreateProduct(context.Background(), bind.NewProduct{
		Code: code, Title: title, Cost: money.MustParse("1"), Price: money.MustParse(price), CurrencyID: co.mxn,
	})
	require.NoError(t, err)
	return id
}

func (co *company) client(t *testing.T, name string) (id, address string) {
	t.Helper()
	ctx := context.Background()
	id, err := co.c.CreateClient(ctx, bind.NewClient{
		LegalName: name, CommercialName: name, RFC: "XAXX010101000", PriceListID: co.general,
		AccountingNumber: "105-01-001", LocationID: co.matriz, Address: &bind.NewAddress{StreetName: "Hidalgo", ExteriorNumber: "10", City: "Monterrey", State: "Nuevo León"},
	})
	require.NoError(t, err)
	d, err := co.c.Client(ctx, id)
	require.NoError(t, err)
	require.Len(t, d.Addresses, 1)
	return id, d.Addresses[0]
}

func (co *company) order(clientID, address, purchaseOrder string, lines ...bind.NewOrderProduct) bind.NewOrder {
	return bind.NewOrder{
		AddressID: address, ClientID: clientID, CurrencyID: co.mxn, LocationID: co.matriz,
		OrderDate: bind.Time{Time: time.Date(2026, 11, 2, 10, 30, 0, 0, time.UTC)}, PriceListID: co.general,
		WarehouseID: co.almacen, VATRate: money.MustParse("0.16"), PurchaseOrder: purchaseOrder,
		Comments: "Vendedor: Beto Ventas <beto@example.com>", Products: lines,
	}
}

func TestUserProfileAndCatalogs(t *testing.T) {
	t.Parallel()
	co := newCompany(t)
	ctx := context.Background()

	p, err := co.c.UserProfile(ctx)
	require.NoError(t, err)
	require.Equal(t, co.user.UserID, p.UserID)
	require.Equal(t, "Distribuidora del Norte", p.CompanyName)

	pls, err := bind.All(co.c.PriceLists(ctx, bind.Query{OrderBy: "Name"}))
	require.NoError(t, err)
	require.Equal(t, []bind.PriceList{{ID: co.general, Name: "Lista General"}, {ID: co.mayoreo, Name: "Mayoreo"}}, pls)

	curs, err := bind.All(co.c.Currencies(ctx, bind.Query{Filter: bind.Eq("Code", "MXN")}))
	require.NoError(t, err)
	require.Len(t, curs, 1)
	require.Equal(t, bindsim.MXN, curs[0].ID)

	whs, err := bind.All(co.c.Warehouses(ctx, bind.Query{OrderBy: "Name"}))
	require.NoError(t, err)
	require.Len(t, whs, 2)
	require.Equal(t, co.matriz, whs[0].LocationID)

	locs, err := bind.All(co.c.Locations(ctx, bind.Query{}))
	require.NoError(t, err)
	require.Len(t, locs, 2)

	accts, err := bind.All(co.c.Accounts(ctx, bind.Query{Filter: bind.Eq("Number", "105-01-002")}))
	require.NoError(t, err)
	require.Equal(t, co.account2, accts[0].ID)

	users, err := bind.All(co.c.Users(ctx, bind.Query{}))
	require.NoError(t, err)
	require.Len(t, users, 2)
}

// pageRequests are the queries a list route was asked, and the rows and nextLink of each answer.
type pageRequest struct {
	query    url.Values
	rows     int
	nextLink bool
}

func pageRequests(t *testing.T, sim *bindsim.Sim, route string) []pageRequest {
	t.Helper()
	var out []pageRequest
	for _, r := range sim.Requests() {
		if r.Route != route {
			continue
		}
		q, err := url.ParseQuery(r.Query)
		require.NoError(t, err)
		var page struct {
			Value    []json.RawMessage
			NextLink *string `json:"nextLink"`
		}
		require.NoError(t, json.Unmarshal(r.Response, &page))
		out = append(out, pageRequest{query: q, rows: len(page.Value), nextLink: page.NextLink != nil})
	}
	return out
}

// TestPagingWithAndWithoutNextLink reads lists longer than two pages from a Bind that sends
// nextLink and from one that leaves it out: either way every record is read once, in order, by
// $skip over an explicit $orderby, ending at the first short page.
func TestPagingWithAndWithoutNextLink(t *testing.T) {
	t.Parallel()
	const n = 260
	for _, nextLink := range []bool{true, false} {
		t.Run(fmt.Sprintf("nextLink=%t", nextLink), func(t *testing.T) {
			t.Parallel()
			var opts []bindsim.Option
			if !nextLink {
				opts = append(opts, bindsim.WithoutNextLink())
			}
			co := newCompanyOf(t, bindsim.New(opts...))
			ctx := context.Background()
			for i := range n {
				co.product(t, fmt.Sprintf("SKU-%03d", i), fmt.Sprintf("Producto %d", i), "10")
				_, err := co.c.CreateClient(ctx, bind.NewClient{
					LegalName: fmt.Sprintf("Cliente %03d", i), CommercialName: fmt.Sprintf("Tienda %03d", i), RFC: "XAXX010101000",
					PriceListID: co.general, AccountingNumber: "105-01-001",
				})
				require.NoError(t, err)
			}

			t.Run("products, ordered by the caller", func(t *testing.T) {
				var codes []string
				for p, err := range co.c.Products(ctx, bind.Query{OrderBy: "Code desc"}) {
					require.NoError(t, err)
					codes = append(codes, p.Code)
				}
				require.Len(t, codes, n)
				require.True(t, slices.IsSortedFunc(codes, func(a, b string) int { return strings.Compare(b, a) }))
				require.Equal(t, "SKU-259", codes[0])
				require.Equal(t, "SKU-000", codes[n-1])
				reqs := pageRequests(t, co.sim, "GET /api/Products")
				require.Len(t, reqs, 3, "260 records are three pages of 100")
				for i, r := range reqs {
					require.Equal(t, strconv.Itoa(100*i), r.query.Get("$skip"))
					require.Equal(t, "100", r.query.Get("$top"))
					require.Equal(t, "Code desc,ID", r.query.Get("$orderby"), "ties are broken by ID")
					require.Equal(t, nextLink && i < 2, r.nextLink)
				}
				require.Equal(t, []int{100, 100, 60}, []int{reqs[0].rows, reqs[1].rows, reqs[2].rows})
			})

			t.Run("clients, in the default order", func(t *testing.T) {
				clients, err := bind.All(co.c.Clients(ctx, bind.Query{}))
				require.NoError(t, err)
				seen := map[string]bool{}
				for i, c := range clients {
					require.False(t, seen[c.ID], "no client is read twice")
					seen[c.ID] = true
					if i > 0 {
						require.Less(t, strings.ToLower(clients[i-1].ID), strings.ToLower(c.ID))
					}
				}
				require.Len(t, seen, n)
				reqs := pageRequests(t, co.sim, "GET /api/Clients")
				require.Len(t, reqs, 3)
				for i, r := range reqs {
					require.Equal(t, strconv.Itoa(100*i), r.query.Get("$skip"))
					require.Equal(t, "ID", r.query.Get("$orderby"))
				}
			})

			t.Run("a Top that ends inside a page", func(t *testing.T) {
				before := co.sim.Count("GET /api/Clients")
				some, err := bind.All(co.c.Clients(ctx, bind.Query{Top: 120}))
				require.NoError(t, err)
				require.Len(t, some, 120)
				reqs := pageRequests(t, co.sim, "GET /api/Clients")[before:]
				require.Len(t, reqs, 2)
				require.Equal(t, "20", reqs[1].query.Get("$top"), "no more is asked for than is wanted")
			})

			t.Run("an exact number of pages ends on an empty one", func(t *testing.T) {
				before := co.sim.Count("GET /api/Products")
				some, err := bind.All(co.c.Products(ctx, bind.Query{Filter: bind.Contains("Code", "SKU-1")}))
				require.NoError(t, err)
				require.Len(t, some, 100)
				require.Equal(t, before+2, co.sim.Count("GET /api/Products"))
			})

			t.Run("stopping the loop stops paging", func(t *testing.T) {
				before := co.sim.Count("GET /api/Products")
				for range co.c.Products(ctx, bind.Query{}) {
					break
				}
				require.Equal(t, before+1, co.sim.Count("GET /api/Products"))
			})

			t.Run("the simulator answers at most 100 rows whatever $top asks", func(t *testing.T) {
				for _, route := range []string{"/api/Products", "/api/Clients"} {
					req, err := http.NewRequest(http.MethodGet, co.srv.URL+route+"?$top=1000&$skip=10", nil)
					require.NoError(t, err)
					req.Header.Set("Authorization", "Bearer "+token)
					res, err := co.srv.Client().Do(req)
					require.NoError(t, err)
					var page struct {
						Value    []json.RawMessage
						Count    int64
						NextLink *string `json:"nextLink"`
					}
					require.NoError(t, json.NewDecoder(res.Body).Decode(&page))
					res.Body.Close()
					require.Len(t, page.Value, 100, route)
					require.Equal(t, int64(n), page.Count, route)
					require.Equal(t, nextLink, page.NextLink != nil, route)
				}
			})
		})
	}
}

func TestFilters(t *testing.T) {
	t.Parallel()
	co := newCompany(t)
	ctx := context.Background()
	tricky := co.product(t, "O'BRIEN-1", "Salsa O'Brien", "20")
	co.product(t, "PLAIN-2", "Salsa verde", "20")
	co.product(t, "x' or Code ne '", "Inyección", "20")

	find := func(f bind.Filter) []string {
		t.Helper()
		ps, err := bind.All(co.c.Products(ctx, bind.Query{Filter: f, OrderBy: "Code"}))
		require.NoError(t, err, f.String())
		var out []string
		for _, p := range ps {
			out = append(out, p.Code)
		}
		return out
	}
	require.Equal(t, []string{"O'BRIEN-1"}, find(bind.Eq("Code", "O'BRIEN-1")), "quotes are escaped")
	require.Equal(t, []string{"x' or Code ne '"}, find(bind.Eq("Code", "x' or Code ne '")), "text never becomes filter syntax")
	require.Equal(t, []string{"PLAIN-2", "x' or Code ne '"}, find(bind.Ne("Code", "O'BRIEN-1")))
	require.Equal(t, []string{"O'BRIEN-1", "PLAIN-2"}, find(bind.Contains("Title", "Salsa")))
	require.Equal(t, []string{"PLAIN-2"}, find(bind.And(bind.Contains("Title", "Salsa"), bind.Ne("Code", "O'BRIEN-1"))))
	byID, err := bind.EqGUID("ID", tricky)
	require.NoError(t, err)
	require.Equal(t, []string{"O'BRIEN-1"}, find(byID))
	require.Equal(t, "ID eq guid'"+tricky+"'", byID.String())

	_, err = bind.EqGUID("ID", "1' or 1 eq 1")
	require.Error(t, err)
	require.Panics(t, func() { bind.Eq("Code eq 'x' or Code", "y") }, "field names are never caller text")

	// Orders by number, excluding cancelled ones, as the sync asks.
	cid, addr := co.client(t, "Abarrotes Lupita")
	p := co.product(t, "A-1", "Arroz", "25")
	for _, po := range []string{"H-1", "H-2"} {
		_, err := co.c.CreateOrder(ctx, co.order(cid, addr, po, bind.NewOrderProduct{ID: p, Price: money.MustParse("25"), Qty: money.NewFromInt(1)}))
		require.NoError(t, err)
	}
	orders, err := bind.All(co.c.Orders(ctx, bind.Query{Filter: bind.And(bind.Eq("PurchaseOrder", "H-2"), bind.NeInt("Status", bind.OrderCancelled))}))
	require.NoError(t, err)
	require.Len(t, orders, 1)
	require.Equal(t, "H-2", orders[0].PurchaseOrder)
}

func TestOrdersClientsProductsAndQuirks(t *testing.T) {
	t.Parallel()
	co := newCompany(t)
	ctx := context.Background()

	pid := co.product(t, "COCA-600", "Refresco 600ml", "15.50")
	// NewProduct says CurrencyId, EditProduct says CurrencyID: check what went over the wire.
	reqs := co.sim.Requests()
	require.Contains(t, string(reqs[len(reqs)-1].Body), `"CurrencyId":"`+co.mxn+`"`)
	require.NoError(t, co.c.EditProduct(ctx, bind.EditProduct{ID: pid, Code: "COCA-600", Title: "Refresco de cola 600ml", Cost: money.MustParse("9"), CurrencyID: co.mxn, ChargeVAT: true, Unit: "Pieza"}))
	reqs = co.sim.Requests()
	last := reqs[len(reqs)-1]
	require.Contains(t, string(last.Body), `"CurrencyID":"`+co.mxn+`"`)
	require.Equal(t, http.StatusNoContent, last.Status)

	d, err := co.c.Product(ctx, pid)
	require.NoError(t, err)
	require.Equal(t, "Refresco de cola 600ml", d.Title)
	require.Len(t, d.Prices.Items, 1)
	require.Equal(t, "Lista General", d.Prices.Items[0].Name)
	require.True(t, d.Prices.Items[0].Price.Equal(money.MustParse("15.50")),
		"a product's price stays what it was created with: EditProduct has no price")

	catalogue, err := co.c.ProductsPriceAndInventory(ctx, co.almacen, co.general)
	require.NoError(t, err)
	require.Len(t, catalogue, 1)
	require.Equal(t, "15.5", catalogue[0].Price.String())
	require.Equal(t, "0.16", catalogue[0].VAT.String())
	none, err := co.c.ProductsPriceAndInventory(ctx, co.almacen, co.mayoreo)
	require.NoError(t, err)
	require.True(t, none[0].Price.IsZero(), "a product missing from a list has price 0")

	// A VAT-exempt product shows the rate it is charged, 0, not the company's rate. A PUT replaces
	// the whole product: this one leaves ChargeVAT out, which makes the product exempt.
	require.NoError(t, co.c.EditProduct(ctx, bind.EditProduct{ID: pid, Code: "COCA-600", Title: "Refresco de cola 600ml", CurrencyID: co.mxn}))
	catalogue, err = co.c.ProductsPriceAndInventory(ctx, co.almacen, co.general)
	require.NoError(t, err)
	require.True(t, catalogue[0].VAT.IsZero(), "VAT %s", catalogue[0].VAT)

	cid, addr := co.client(t, "Abarrotes Lupita")
	cd, err := co.c.Client(ctx, cid)
	require.NoError(t, err)
	require.Equal(t, "Lista General", cd.PriceList)
	require.Equal(t, "105-01-001", cd.Account)
	require.Equal(t, co.matriz, cd.LoctaionID, "Bind spells it Loctaion")
	require.Equal(t, "Matriz", cd.Loctaion)
	require.Contains(t, string(co.sim.Requests()[len(co.sim.Requests())-1].Response), `"LoctaionID":"`+co.matriz)
	clients, err := bind.All(co.c.Clients(ctx, bind.Query{Filter: bind.Eq("ClientName", "Abarrotes Lupita")}))
	require.NoError(t, err)
	require.Len(t, clients, 1)

	// Net prices, VAT on top: 3 × 86.21 = 258.63, VAT 41.38, total 300.01.
	oid, err := co.c.CreateOrder(ctx, co.order(cid, addr, "HANDY-9001",
		bind.NewOrderProduct{ID: pid, Price: money.MustParse("86.21"), Qty: money.NewFromInt(3)}))
	require.NoError(t, err)
	od, err := co.c.Order(ctx, oid)
	require.NoError(t, err)
	require.Equal(t, int32(bind.OrderActive), od.StatusCode)
	require.Equal(t, "Activo", od.Status)
	require.Equal(t, "258.63", od.ProductSubtotal.String())
	require.Equal(t, "41.38", od.VAT.String())
	require.Equal(t, "300.01", od.Total.String())
	require.Equal(t, co.user.UserID, od.EmployeeID, "orders are captured by the key's user")
	require.Equal(t, "2026-11-02T10:30:00", od.OrderDate.Format("2006-01-02T15:04:05"))

	// Per-line taxes: an exempt line bears no VAT; IEPS (a rate) is inside the VAT base.
	// 100 exempt + 100 × 1.08 × 1.16 = 100 + 125.28.
	taxed, err := co.c.CreateOrder(ctx, co.order(cid, addr, "HANDY-9003",
		bind.NewOrderProduct{ID: pid, Price: money.MustParse("100"), Qty: money.NewFromInt(1), VATExempt: true},
		bind.NewOrderProduct{ID: pid, Price: money.MustParse("100"), Qty: money.NewFromInt(1), IEPS: money.MustParse("0.08")}))
	require.NoError(t, err)
	require.Contains(t, string(co.sim.Requests()[len(co.sim.Requests())-1].Body), `"IEPS":0.08`)
	td, err := co.c.Order(ctx, taxed)
	require.NoError(t, err)
	require.Equal(t, []string{"200", "8", "0.08", "17.28", "225.28"},
		[]string{td.ProductSubtotal.String(), td.IEPS.String(), td.IEPSRATE.String(), td.VAT.String(), td.Total.String()})

	list, err := bind.All(co.c.Orders(ctx, bind.Query{OrderBy: "Number"}))
	require.NoError(t, err)
	require.Equal(t, int32(bind.OrderActive), list[0].Status)

	// Bind cancels rather than removes by default: status 2, still listed.
	require.NoError(t, co.c.DeleteOrder(ctx, oid))
	od, err = co.c.Order(ctx, oid)
	require.NoError(t, err)
	require.Equal(t, int32(bind.OrderCancelled), od.StatusCode)
	require.Equal(t, "Cancelado", od.Status)
	list, err = bind.All(co.c.Orders(ctx, bind.Query{OrderBy: "Number"}))
	require.NoError(t, err)
	require.Equal(t, int32(bind.OrderCancelled), list[0].Status)

	// The other documented behaviour: removed, then 404.
	co.sim.DeleteMode = bindsim.DeleteRemoves
	oid2, err := co.c.CreateOrder(ctx, co.order(cid, addr, "HANDY-9002", bind.NewOrderProduct{ID: pid, Price: money.MustParse("1"), Qty: money.NewFromInt(1)}))
	require.NoError(t, err)
	require.NoError(t, co.c.DeleteOrder(ctx, oid2))
	_, err = co.c.Order(ctx, oid2)
	var apiErr *bind.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusNotFound, apiErr.Status)

	_, err = co.c.Order(ctx, "../Clients")
	require.ErrorContains(t, err, "not a record id")
}

func TestCredentialsRejected(t *testing.T) {
	t.Parallel()
	co := newCompany(t, func(o *bind.Options) { o.Token = "wrong" })
	_, err := co.c.UserProfile(context.Background())
	require.ErrorIs(t, err, bind.ErrCredentialsRejected)
	var apiErr *bind.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 401, apiErr.Status)
	require.Equal(t, 1, co.sim.Count("GET /api/UserProfile"), "a 401 is not retried")
	require.NotContains(t, err.Error(), "wrong", "the key never appears in errors")
}

func TestBadRequestKeepsBindsMessage(t *testing.T) {
	t.Parallel()
	co := newCompany(t)
	_, err := co.c.CreateClient(context.Background(), bind.NewClient{LegalName: "Sin RFC", CommercialName: "Sin RFC", PriceListID: co.general, AccountingNumber: "105-01-001"})
	var apiErr *bind.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadRequest, apiErr.Status)
	require.Contains(t, apiErr.Message, "The RFC field is required")
	require.Contains(t, apiErr.Body, `"Message"`)
	require.False(t, errors.Is(err, bind.ErrOutcomeUnknown), "a 400 is a clear refusal")
	require.Equal(t, 1, co.sim.Count("POST /api/Clients"))
}

func TestRateLimitedThenSuccess(t *testing.T) {
	t.Parallel()
	co := newCompany(t)
	co.sim.Inject("GET /api/PriceLists", bindsim.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}})
	start := time.Now()
	pls, err := bind.All(co.c.PriceLists(context.Background(), bind.Query{}))
	require.NoError(t, err)
	require.Len(t, pls, 2)
	require.Equal(t, 2, co.sim.Count("GET /api/PriceLists"))
	require.GreaterOrEqual(t, time.Since(start), time.Second, "Retry-After is honoured")

	// A 429 is a refusal before anything was applied, so even a create is sent again.
	co.sim.Inject("POST /api/Products", bindsim.Fault{Status: http.StatusTooManyRequests})
	co.product(t, "RL-1", "Tras 429", "1")
	require.Equal(t, 2, co.sim.Count("POST /api/Products"))
	require.Len(t, co.sim.Products(), 1)

	// A Retry-After beyond the bound ends the call instead of stalling a run.
	co.sim.Inject("GET /api/Users", bindsim.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"3600"}}})
	_, err = bind.All(co.c.Users(context.Background(), bind.Query{}))
	var apiErr *bind.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusTooManyRequests, apiErr.Status)
}

func TestServerErrorsRetriedForReadsNotCreates(t *testing.T) {
	t.Parallel()
	co := newCompany(t)
	ctx := context.Background()
	cid, addr := co.client(t, "Tienda Don Pepe")
	pid := co.product(t, "P-1", "Pan", "10")

	co.sim.Inject("GET /api/Clients/{id}", bindsim.Fault{Status: http.StatusInternalServerError, Times: 2})
	_, err := co.c.Client(ctx, cid)
	require.NoError(t, err)
	require.Equal(t, 1+3, co.sim.Count("GET /api/Clients/{id}"), "two 500s, then success")

	co.sim.Inject("POST /api/Orders", bindsim.Fault{Status: http.StatusServiceUnavailable})
	_, err = co.c.CreateOrder(ctx, co.order(cid, addr, "H-500", bind.NewOrderProduct{ID: pid, Price: money.NewFromInt(10), Qty: money.NewFromInt(1)}))
	require.ErrorIs(t, err, bind.ErrOutcomeUnknown)
	require.Equal(t, 1, co.sim.Count("POST /api/Orders"), "a create is never sent twice blindly")

	// Reads give up after the configured attempts.
	co.sim.Inject("GET /api/Currencies", bindsim.Fault{Status: http.StatusBadGateway, Times: 10})
	_, err = bind.All(co.c.Currencies(ctx, bind.Query{}))
	var apiErr *bind.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusBadGateway, apiErr.Status)
	require.Equal(t, 5, co.sim.Count("GET /api/Currencies"))
}

// createOrderOnce is how a caller recovers from ErrOutcomeUnknown: it looks the order up by
// PurchaseOrder and sends it only when Bind does not have it.
func createOrderOnce(ctx context.Context, c *bind.Client, o bind.NewOrder) (string, error) {
	found, err := bind.All(c.Orders(ctx, bind.Query{Filter: bind.And(bind.Eq("PurchaseOrder", o.PurchaseOrder), bind.NeInt("Status", bind.OrderCancelled)), Top: 1}))
	if err != nil {
		return "", err
	}
	if len(found) > 0 {
		return found[0].ID, nil
	}
	return c.CreateOrder(ctx, o)
}

// TestLostResponseCreateIsDetectableAndFindable covers a create whose answer never arrives, for
// every way that happens: the client reports ErrOutcomeUnknown, and a retry that looks the order
// up by PurchaseOrder first leaves exactly one order in Bind, whether or not the first POST landed.
func TestLostResponseCreateIsDetectableAndFindable(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		fault   bindsim.Fault
		applied bool
	}{
		"applied, then 500":                            {fault: bindsim.Fault{StatusAfterApply: http.StatusInternalServerError}, applied: true},
		"applied, then 504 from the gateway":           {fault: bindsim.Fault{StatusAfterApply: http.StatusGatewayTimeout}, applied: true},
		"applied, then the connection drops":           {fault: bindsim.Fault{LoseResponse: true}, applied: true},
		"applied, answer slower than the client waits": {fault: bindsim.Fault{SlowResponse: 2 * time.Second}, applied: true},
		"refused with 503 before it was applied":       {fault: bindsim.Fault{Status: http.StatusServiceUnavailable}, applied: false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			co := newCompany(t, func(o *bind.Options) { o.AttemptTimeout = 500 * time.Millisecond }) // well above a loaded machine's normal answer
			ctx := context.Background()
			cid, addr := co.client(t, "Miscelánea La Esperanza")
			pid := co.product(t, "L-1", "Leche", "28")
			order := co.order(cid, addr, "HANDY-777", bind.NewOrderProduct{ID: pid, Price: money.NewFromInt(28), Qty: money.NewFromInt(2)})

			co.sim.Inject("POST /api/Orders", tc.fault)
			_, err := co.c.CreateOrder(ctx, order)
			require.ErrorIs(t, err, bind.ErrOutcomeUnknown)
			require.Equal(t, 1, co.sim.Count("POST /api/Orders"), "a create is never sent twice blindly")
			landed := 0
			if tc.applied {
				landed = 1
			}
			require.Eventually(t, func() bool { return len(co.sim.Orders()) == landed }, time.Second, 5*time.Millisecond)

			id, err := createOrderOnce(ctx, co.c, order)
			require.NoError(t, err)
			again, err := createOrderOnce(ctx, co.c, order)
			require.NoError(t, err)
			require.Equal(t, id, again)
			// When the first POST did not land, the lookup finds nothing and the order is sent once more.
			require.Equal(t, 2-landed, co.sim.Count("POST /api/Orders"))

			// Exactly one order exists, found by PurchaseOrder.
			orders := co.sim.Orders()
			require.Len(t, orders, 1)
			require.Equal(t, id, orders[0].ID)
			found, err := bind.All(co.c.Orders(ctx, bind.Query{Filter: bind.Eq("PurchaseOrder", "HANDY-777")}))
			require.NoError(t, err)
			require.Len(t, found, 1)
			require.Equal(t, "64.96", found[0].Total.String())
		})
	}
}

func TestTimeouts(t *testing.T) {
	t.Parallel()
	co := newCompany(t, func(o *bind.Options) { o.AttemptTimeout = 400 * time.Millisecond }) // well above a loaded machine's normal answer
	ctx := context.Background()
	cid, addr := co.client(t, "Abarrotes El Sol")
	pid := co.product(t, "T-1", "Tortillas", "20")

	co.sim.Inject("GET /api/Orders", bindsim.Fault{Hang: true})
	_, err := bind.All(co.c.Orders(ctx, bind.Query{}))
	require.NoError(t, err, "a read that timed out is tried again")
	require.Equal(t, 2, co.sim.Count("GET /api/Orders"))

	co.sim.Inject("GET /api/Clients/{id}", bindsim.Fault{SlowResponse: time.Second})
	_, err = co.c.Client(ctx, cid)
	require.NoError(t, err, "a read whose answer is too slow is tried again")
	require.Equal(t, 1+2, co.sim.Count("GET /api/Clients/{id}"))

	co.sim.Inject("POST /api/Orders", bindsim.Fault{Hang: true})
	_, err = co.c.CreateOrder(ctx, co.order(cid, addr, "H-T", bind.NewOrderProduct{ID: pid, Price: money.NewFromInt(20), Qty: money.NewFromInt(1)}))
	require.ErrorIs(t, err, bind.ErrOutcomeUnknown)
	require.Equal(t, 1, co.sim.Count("POST /api/Orders"))

	// The caller's deadline wins over retries.
	co.sim.Inject("GET /api/Users", bindsim.Fault{Hang: true, Times: 100})
	short, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	_, err = bind.All(co.c.Users(short, bind.Query{}))
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// TestNextLinkNeverLeavesTheBaseURL: a nextLink pointing elsewhere is not followed, since lists
// are paged by $skip against the configured base URL, so the key never goes anywhere else.
func TestNextLinkNeverLeavesTheBaseURL(t *testing.T) {
	t.Parallel()
	var hosts []string
	var evilHit bool
	evil := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { evilHit = true }))
	defer evil.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Query().Get("$skip") == "0" {
			rows := make([]string, bind.PageSize)
			for i := range rows {
				rows[i] = fmt.Sprintf(`{"ID":"00000000-0000-0000-0000-%012d","Name":"A"}`, i)
			}
			fmt.Fprintf(w, `{"value":[%s],"nextLink":"%s/api/PriceLists?$skip=100","count":101}`, strings.Join(rows, ","), evil.URL)
			return
		}
		fmt.Fprint(w, `{"value":[{"ID":"00000000-0000-0000-0000-000000000100","Name":"B"}],"count":101}`)
	}))
	defer srv.Close()
	c, err := bind.New(bind.Options{BaseURL: srv.URL, Token: token})
	require.NoError(t, err)
	pls, err := bind.All(c.PriceLists(context.Background(), bind.Query{}))
	require.NoError(t, err)
	require.Len(t, pls, bind.PageSize+1)
	require.False(t, evilHit, "the key is only ever sent to the configured base URL")
	require.Len(t, hosts, 2)
}

func TestMalformedResponseIsAnError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"value":[{"ID":"x","Number":105}],"count":1}`)
	}))
	defer srv.Close()
	c, err := bind.New(bind.Options{BaseURL: srv.URL, Token: token})
	require.NoError(t, err)
	_, err = bind.All(c.Accounts(context.Background(), bind.Query{}))
	require.ErrorContains(t, err, "malformed response")
	require.ErrorContains(t, err, "Number", "the error names the field")
}

func TestConcurrencyCapAndRateLimit(t *testing.T) {
	t.Parallel()
	co := newCompany(t, func(o *bind.Options) {
		o.MaxConcurrent = 2
		o.RequestsPerSecond = 20
		o.Burst = 1
	})
	co.sim.Inject("GET /api/UserProfile", bindsim.Fault{Latency: 50 * time.Millisecond, Times: 8})
	start := time.Now()
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, err := co.c.UserProfile(context.Background())
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
	require.LessOrEqual(t, co.sim.PeakInFlight(), 2, "never more than MaxConcurrent requests in flight")
	// 8 requests at 20/s with a burst of 1 cannot finish sooner than 7 intervals of 50ms.
	require.GreaterOrEqual(t, time.Since(start), 350*time.Millisecond)
}

// TestOrderTotalRounding checks Bind's arithmetic as real orders show it: net prices precise to
// 10 places give a tax-inclusive total back to the cent when the total is rounded once, and a cent
// less when the subtotal is rounded before VAT is applied, the other reading the reference leaves
// open.
func TestOrderTotalRounding(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		rounding             bindsim.Rounding
		subtotal, vat, total string
	}{
		{bindsim.RoundOnce, "100.03", "16.01", "116.04"},
		{bindsim.RoundSubtotalFirst, "100.03", "16", "116.03"},
	} {
		t.Run(tc.rounding.String(), func(t *testing.T) {
			t.Parallel()
			co := newCompanyOf(t, bindsim.New(bindsim.WithRounding(tc.rounding)))
			ctx := context.Background()
			cid, addr := co.client(t, "Redondeo")
			pid := co.product(t, "R-1", "Redondeo", "1")
			net := money.MustParse("116.04").Div(money.MustParse("1.16")) // 100.0344827586…
			oid, err := co.c.CreateOrder(ctx, co.order(cid, addr, "H-R", bind.NewOrderProduct{ID: pid, Price: money.Of(net.Round(10)), Qty: money.NewFromInt(1)}))
			require.NoError(t, err)
			od, err := co.c.Order(ctx, oid)
			require.NoError(t, err)
			require.Equal(t, tc.total, od.Total.String())
			require.Equal(t, tc.subtotal, od.ProductSubtotal.String())
			require.Equal(t, tc.vat, od.VAT.String())
			list, err := bind.All(co.c.Orders(ctx, bind.Query{}))
			require.NoError(t, err)
			require.Equal(t, tc.total, list[0].Total.String(), "the list shows the same total")
		})
	}
}

// TestWriteGuardIsAskedBeforeEachAttempt: under WithWriteGuard, a write is sent only while the
// guard allows it, and the guard is asked again before a retry; reads are not guarded.
func TestWriteGuardIsAskedBeforeEachAttempt(t *testing.T) {
	t.Parallel()
	co := newCompany(t)
	pid := co.product(t, "COCA-600", "Refresco 600ml", "15.50")
	stop := errors.New("lease ran out")
	var asked atomic.Int32
	var allow atomic.Bool
	guard := func() error {
		asked.Add(1)
		if allow.Load() {
			return nil
		}
		return stop
	}
	ctx := bind.WithWriteGuard(context.Background(), guard)
	edit := bind.EditProduct{ID: pid, Code: "COCA-600", Title: "Refresco de cola 600ml", CurrencyID: co.mxn, Unit: "Pieza"}

	_, err := co.c.Product(ctx, pid)
	require.NoError(t, err, "a read is not guarded")
	require.Zero(t, asked.Load())

	puts := co.sim.Count("PUT /api/Products")
	require.ErrorIs(t, co.c.EditProduct(ctx, edit), stop)
	require.Equal(t, puts, co.sim.Count("PUT /api/Products"), "refused by the guard, not sent")

	// The first attempt goes and fails on Bind's side; the guard then refuses the retry.
	allow.Store(true)
	co.sim.Inject("PUT /api/Products", bindsim.Fault{Status: http.StatusServiceUnavailable, Times: 1})
	var once sync.Once
	ctx = bind.WithWriteGuard(context.Background(), func() error {
		err := guard()
		once.Do(func() { allow.Store(false) })
		return err
	})
	require.ErrorIs(t, co.c.EditProduct(ctx, edit), stop)
	require.Equal(t, puts+1, co.sim.Count("PUT /api/Products"), "one attempt sent, the retry not")
}
