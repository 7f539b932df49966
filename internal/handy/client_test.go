package handy_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
)

const token = "handy-token"

var mexico = mustZone("America/Mexico_City")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

type account struct {
	sim    *handysim.Sim
	srv    *httptest.Server
	c      *handy.Client
	seller handy.User
}

func newAccount(t testing.TB, opts ...func(*handy.Options)) *account {
	t.Helper()
	s := handysim.New(mexico)
	s.AddToken(token)
	a := &account{sim: s}
	a.seller = s.AddUser(handy.User{Name: "Beto Ventas", Username: "beto@example.com", Enabled: true, Extras: "Almacén Norte"})
	s.AddUser(handy.User{Name: "Ana Admin", Username: "ana@example.com", Enabled: true, Role: &handy.Role{ID: 1, Authority: "ROLE_ADMIN"}})
	s.AddUser(handy.User{Name: "Baja", Username: "baja@example.com", Enabled: false})
	s.AddCustomer(handy.Customer{Code: "C-1", Description: "Abarrotes Lupita", City: "Monterrey"})
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.AddProduct("E-001", "Escoba", money.MustParse("836.21"), handysim.IVA(16), at)
	a.srv = httptest.NewServer(s)
	t.Cleanup(a.srv.Close)
	o := handy.Options{BaseURL: a.srv.URL + "/api/v2", Token: token, Location: mexico, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond}
	for _, f := range opts {
		f(&o)
	}
	c, err := handy.New(o)
	require.NoError(t, err)
	a.c = c
	return a
}

func (a *account) sale(t testing.TB, at time.Time) handy.SalesOrder {
	t.Helper()
	o, err := a.sim.CreateSale(handysim.Sale{Customer: "C-1", Seller: a.seller.ID, At: at,
		Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(1)}}})
	require.NoError(t, err)
	return o
}

func ids(t *testing.T, seq func(func(handy.SalesOrder, error) bool)) []int64 {
	t.Helper()
	var out []int64
	for o, err := range seq {
		require.NoError(t, err)
		out = append(out, o.ID)
	}
	return out
}

func TestReads(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	ctx := context.Background()

	users, err := handy.All(a.c.Users(ctx, handy.UserFilter{}))
	require.NoError(t, err)
	require.Len(t, users, 2, "disabled users are left out unless asked for")
	require.Equal(t, "Almacén Norte", users[0].Extras)
	yes := true
	sellers, err := handy.All(a.c.Users(ctx, handy.UserFilter{Enabled: &yes, Role: 4}))
	require.NoError(t, err)
	require.Len(t, sellers, 1)

	products, err := handy.All(a.c.Products(ctx, nil))
	require.NoError(t, err)
	require.Len(t, products, 1)
	require.Equal(t, "970", products[0].Price.String(), "price is tax-inclusive: 836.21 × 1.16")
	require.Equal(t, "836.21", products[0].BasePrice.String())

	customers, err := handy.All(a.c.Customers(ctx))
	require.NoError(t, err)
	require.Equal(t, "Abarrotes Lupita", customers[0].Description)
	c, err := a.c.Customer(ctx, "C-1")
	require.NoError(t, err)
	require.Equal(t, "Monterrey", c.City)
	_, err = a.c.Customer(ctx, "a/b")
	require.ErrorContains(t, err, "holds '/'")
	_, err = a.c.Customer(ctx, "nadie")
	require.ErrorIs(t, err, handy.ErrNotFound)

	o := a.sale(t, time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC))
	got, err := a.c.SalesOrder(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, o.ID, got.ID)
	require.Equal(t, "Beto Ventas", got.CreatedBy.Name)
	require.Equal(t, "Almacén Norte", got.CreatedBy.Extras)
	_, err = a.c.SalesOrder(ctx, 999999)
	require.ErrorIs(t, err, handy.ErrNotFound)

	require.NoError(t, a.c.SetExternalID(ctx, o.ID, 1042))
	byExt, err := a.c.SalesOrderByExternalID(ctx, 1042)
	require.NoError(t, err)
	require.Equal(t, o.ID, byExt.ID)
	require.Equal(t, int64(1042), *byExt.ExternalID)
}

func TestPagingOverThreePages(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	base := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	var want []int64
	for i := range 250 {
		want = append(want, a.sale(t, base.Add(time.Duration(i)*time.Second)).ID)
	}
	got := ids(t, a.c.CreatedSales(context.Background(), base, base.Add(time.Hour), nil))
	require.Equal(t, want, got, "every sale once, oldest first")
	require.Equal(t, 3, a.sim.Count("GET /salesOrder"))
	for i, r := range a.sim.Requests() {
		if r.Route != "GET /salesOrder" {
			continue
		}
		q, err := url.ParseQuery(r.Query)
		require.NoError(t, err)
		require.Equal(t, "100", q.Get("max"), "request %d", i)
	}
}

func TestCreatedAndDeletedWindowsUseTheirDateField(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	ctx := context.Background()
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	early := a.sale(t, day.Add(10*time.Hour))
	late := a.sale(t, day.Add(20*time.Hour))
	require.NoError(t, a.sim.DeleteSale(early.ID, day.Add(21*time.Hour), a.seller.ID))

	// Created 09:00–12:00 UTC: the early sale, but it is deleted now, so the created stream has none.
	require.Empty(t, ids(t, a.c.CreatedSales(ctx, day.Add(9*time.Hour), day.Add(12*time.Hour), nil)))
	require.Equal(t, []int64{late.ID}, ids(t, a.c.CreatedSales(ctx, day.Add(19*time.Hour), day.Add(22*time.Hour), nil)))
	// Deleted 20:30–22:00 UTC: windowed by dateDeleted, not dateCreated.
	require.Equal(t, []int64{early.ID}, ids(t, a.c.DeletedSales(ctx, day.Add(20*time.Hour+30*time.Minute), day.Add(22*time.Hour), nil)))
	require.Empty(t, ids(t, a.c.DeletedSales(ctx, day.Add(9*time.Hour), day.Add(12*time.Hour), nil)))

	var queries []url.Values
	for _, r := range a.sim.Requests() {
		if r.Route == "GET /salesOrder" {
			q, _ := url.ParseQuery(r.Query)
			queries = append(queries, q)
		}
	}
	require.Equal(t, "dateCreated", queries[0].Get("filterWithDate"))
	require.Equal(t, "false", queries[0].Get("deleted"))
	require.Equal(t, "dateDeleted", queries[2].Get("filterWithDate"))
	require.Equal(t, "true", queries[2].Get("deleted"))
	// 09:00 UTC is 03:00 in Mexico City (UTC−6): the window is sent as wall-clock time there.
	require.Equal(t, "02/03/2026 03:00:00", queries[0].Get("start"))
	raw := a.sim.Requests()[len(a.sim.Requests())-1].Query
	require.Contains(t, raw, "start=02/03/2026%2003:00:00", "dates are sent as Handy documents them")
}

func TestWindowStraddlingMidnight(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	// 23:50 and 00:10 Mexico City time, on either side of local midnight.
	before := a.sale(t, time.Date(2026, 3, 3, 5, 50, 0, 0, time.UTC))
	after := a.sale(t, time.Date(2026, 3, 3, 6, 10, 0, 0, time.UTC))
	a.sale(t, time.Date(2026, 3, 3, 6, 40, 0, 0, time.UTC))
	got := ids(t, a.c.CreatedSales(context.Background(), time.Date(2026, 3, 3, 5, 45, 0, 0, time.UTC), time.Date(2026, 3, 3, 6, 15, 0, 0, time.UTC), nil))
	require.Equal(t, []int64{before.ID, after.ID}, got)
	q, _ := url.ParseQuery(a.sim.Requests()[0].Query)
	require.Equal(t, "02/03/2026 23:45:00", q.Get("start"))
	require.Equal(t, "03/03/2026 00:15:00", q.Get("end"))
}

func TestWindowStraddlingUTCOffsetChange(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	// On 30 Oct 2022 Mexico City went from UTC−5 to UTC−6 at 02:00, so the wall-clock hour 01:00–02:00
	// happened twice. A sale in each of them:
	first := a.sale(t, time.Date(2022, 10, 30, 6, 40, 0, 0, time.UTC))  // 01:40 CDT
	second := a.sale(t, time.Date(2022, 10, 30, 7, 20, 0, 0, time.UTC)) // 01:20 CST
	got := ids(t, a.c.CreatedSales(context.Background(), time.Date(2022, 10, 30, 6, 30, 0, 0, time.UTC), time.Date(2022, 10, 30, 7, 30, 0, 0, time.UTC), nil))
	require.Equal(t, []int64{first.ID, second.ID}, got, "both sales of the repeated hour are read")

	// And the spring change (3 Apr 2022, 02:00 CST → 03:00 CDT), where an hour of wall time never happened.
	spring1 := a.sale(t, time.Date(2022, 4, 3, 7, 50, 0, 0, time.UTC)) // 01:50 CST
	spring2 := a.sale(t, time.Date(2022, 4, 3, 8, 10, 0, 0, time.UTC)) // 03:10 CDT
	got = ids(t, a.c.CreatedSales(context.Background(), time.Date(2022, 4, 3, 7, 45, 0, 0, time.UTC), time.Date(2022, 4, 3, 8, 15, 0, 0, time.UTC), nil))
	require.Equal(t, []int64{spring1.ID, spring2.ID}, got)
}

func TestTimeZoneIsTheConnectionsNotTheMachines(t *testing.T) {
	t.Parallel()
	a := newAccount(t, func(o *handy.Options) { o.Location = mustZone("America/Tijuana") })
	_, err := handy.All(a.c.CreatedSales(context.Background(), time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC), nil))
	require.NoError(t, err)
	q, _ := url.ParseQuery(a.sim.Requests()[0].Query)
	require.Equal(t, "02/03/2026 01:00:00", q.Get("start"), "09:00 UTC is 01:00 in Tijuana (UTC−8)")
}

func TestRateLimitedThenSuccess(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	a.sim.RateLimit = 2
	a.sim.RateWindow = time.Second
	ctx := context.Background()
	start := time.Now()
	for range 3 {
		_, err := handy.All(a.c.Customers(ctx))
		require.NoError(t, err)
	}
	require.Equal(t, 4, a.sim.Count("GET /customer"), "the third call was refused once, then went through")
	var refused int
	for _, r := range a.sim.Requests() {
		if r.Status == http.StatusTooManyRequests {
			refused++
			require.NotEmpty(t, r.Response)
		}
	}
	require.Equal(t, 1, refused)
	require.Greater(t, time.Since(start), 100*time.Millisecond, "it waited for X-RateLimit-Reset")
}

func TestRateLimitWaitIsBounded(t *testing.T) {
	t.Parallel()
	a := newAccount(t, func(o *handy.Options) { o.MaxRateLimitWait = 10 * time.Millisecond })
	a.sim.RateLimit = 1
	a.sim.RateWindow = time.Hour
	ctx := context.Background()
	_, err := handy.All(a.c.Customers(ctx))
	require.NoError(t, err)
	_, err = handy.All(a.c.Customers(ctx))
	var apiErr *handy.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusTooManyRequests, apiErr.Status)
	require.ErrorContains(t, err, "longer than the")
}

func TestSharedBudgetPerAccount(t *testing.T) {
	t.Parallel()
	var budgets handy.Budgets
	require.Same(t, budgets.For("tok-a"), budgets.For("tok-a"), "every sync of one account shares the budget")
	require.NotSame(t, budgets.For("tok-a"), budgets.For("tok-b"))
}

// TestSharedBudgetNamesAreKeyed: with a key, the name a shared budget is kept under is the
// token's HMAC, not its plain hash, which a copy of the database could check a guess against;
// replicas with one key name an account alike.
func TestSharedBudgetNamesAreKeyed(t *testing.T) {
	t.Parallel()
	names := func(key []byte) (seen [][32]byte) {
		b := handy.Budgets{Key: key, Shared: func(account [32]byte) handy.Budget {
			seen = append(seen, account)
			return handy.NewBudget()
		}}
		b.For("tok-a")
		b.For("tok-b")
		return seen
	}
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	mac := hmac.New(sha256.New, k1)
	mac.Write([]byte("tok-a"))
	got := names(k1)
	require.Equal(t, mac.Sum(nil), got[0][:])
	require.NotEqual(t, sha256.Sum256([]byte("tok-a")), got[0])
	require.Equal(t, got, names(k1), "another replica with the same key")
	require.NotEqual(t, got[0], names(k2)[0], "another key")
	require.NotEqual(t, got[0], got[1])
	require.Equal(t, sha256.Sum256([]byte("tok-a")), names(nil)[0], "no key: the plain hash")
}

func TestServerErrorsAreRetried(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	a.sim.Inject("GET /user", handysim.Fault{Status: http.StatusServiceUnavailable, Times: 2})
	users, err := handy.All(a.c.Users(context.Background(), handy.UserFilter{}))
	require.NoError(t, err)
	require.Len(t, users, 2)
	require.Equal(t, 3, a.sim.Count("GET /user"))
}

func TestCredentialsRejected(t *testing.T) {
	t.Parallel()
	a := newAccount(t, func(o *handy.Options) { o.Token = "revoked" })
	_, err := handy.All(a.c.Users(context.Background(), handy.UserFilter{}))
	require.ErrorIs(t, err, handy.ErrCredentialsRejected)
	require.Equal(t, 1, a.sim.Count("GET /user"))
	require.NotContains(t, err.Error(), "revoked")
}

func TestMalformedBodyNamesTheField(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"total as text":      `{"id":1,"dateCreated":"2026-01-01T00:00:00Z","customer":{"code":"C"},"totalSales":"mucho","items":[]}`,
		"date not ISO":       `{"id":1,"dateCreated":"01/01/2026 00:00:00","customer":{"code":"C"},"items":[]}`,
		"quantity as object": `{"id":1,"dateCreated":"2026-01-01T00:00:00Z","customer":{"code":"C"},"items":[{"product":{"code":"P"},"quantity":{}}]}`,
		"missing id":         `{"dateCreated":"2026-01-01T00:00:00Z","customer":{"code":"C"},"items":[]}`,
		"line without code":  `{"id":1,"dateCreated":"2026-01-01T00:00:00Z","customer":{"code":"C"},"items":[{"product":{}}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"pagination":{"totalCount":1,"totalPages":1,"nextPage":null},"salesOrders":[%s]}`, body)
			}))
			defer srv.Close()
			c, err := handy.New(handy.Options{BaseURL: srv.URL, Token: token})
			require.NoError(t, err)
			_, err = handy.All(c.SalesOrders(context.Background(), handy.SalesQuery{}))
			require.Error(t, err)
			field := map[string]string{
				"total as text": "totalSales", "date not ISO": "dateCreated", "quantity as object": "quantity",
				"missing id": "id", "line without code": "items[0].product.code",
			}[name]
			require.Contains(t, err.Error(), field)
		})
	}
}

// TestReferenceExampleArithmetic rebuilds the SDK example order of the reference: discounted line
// prices, line totals, and the order totals.
func TestReferenceExampleArithmetic(t *testing.T) {
	t.Parallel()
	s := handysim.New(mexico)
	seller := s.AddUser(handy.User{Name: "Vendedor", Enabled: true})
	s.AddCustomer(handy.Customer{Code: "9112069", Description: "Cliente"})
	at := time.Date(2023, 2, 26, 7, 14, 32, 0, time.UTC)
	m1 := s.AddProduct("M-001", "Mueble", money.MustParse("1750"), handysim.IVA(8), at)
	require.Equal(t, "1890", m1.Price.String(), "product.price = basePrice × 1.08")
	// M-002 has IEPS as its optional tax: its price includes both taxes.
	m2 := s.AddProductWithOptionalTax("M-002", "Mesa", money.MustParse("30000"), handysim.IVA(16), handysim.IEPS(8), at)
	require.Equal(t, "37200", m2.Price.String(), "product.price = basePrice × (1 + (16 + 8)%)")
	s.AddProduct("E-001", "Escoba", money.MustParse("836.2069"), handysim.IVA(16), at)
	s.AddProduct("S-001", "Silla", money.MustParse("1050"), handysim.IVA(16), at)

	o, err := s.CreateSale(handysim.Sale{Customer: "9112069", Seller: seller.ID, At: at, Lines: []handysim.Line{
		{Product: "M-001", Quantity: money.NewFromInt(1), DiscountPercent: money.NewFromInt(3)},
		{Product: "M-002", Quantity: money.NewFromInt(1), DiscountPercent: money.NewFromInt(3)},
		{Product: "S-001", Quantity: money.NewFromInt(1)},
	}})
	require.NoError(t, err)
	require.Equal(t, "1890", o.Items[0].OriginalPrice.String())
	require.Equal(t, "1833.3", o.Items[0].Price.String(), "price = originalPrice × (1 − 3%)")
	require.Nil(t, o.Items[1].TaxOptional, "the line does not carry the product's optional tax")
	require.Equal(t, "34800", o.Items[1].OriginalPrice.String(), "30000 × 1.16: without the optional tax")
	require.Equal(t, "33756", o.Items[1].Price.String(), "34800 × 0.97")
	require.Equal(t, "1218", o.Items[2].Total.String())
	require.Equal(t, "36807.3", o.TotalSales.String(), "totalSales = Σ line totals")
	require.Equal(t, "31847.5", o.TotalBeforeTax.String(), "Σ total ÷ (1 + tax)")
	require.Equal(t, "4959.8", o.TotalTax.String())

	e, err := s.CreateSale(handysim.Sale{Customer: "9112069", Seller: seller.ID, At: at, Lines: []handysim.Line{
		{Product: "E-001", Quantity: money.NewFromInt(3), DiscountPercent: money.NewFromInt(3)},
	}})
	require.NoError(t, err)
	require.Equal(t, "970", e.Items[0].OriginalPrice.String())
	require.Equal(t, "940.9", e.Items[0].Price.String())
	require.Equal(t, "2822.7", e.Items[0].Total.String(), "total = price × quantity")
}

func TestEditIsDeleteAndNewOrder(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)
	orig := a.sale(t, t0)
	edited, err := a.sim.EditSale(orig.ID, handysim.Sale{Customer: "C-1", Seller: a.seller.ID, At: t0.Add(5 * time.Minute),
		Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(2)}}})
	require.NoError(t, err)
	require.NotEqual(t, orig.ID, edited.ID)

	created := ids(t, a.c.CreatedSales(ctx, t0.Add(-time.Minute), t0.Add(10*time.Minute), nil))
	require.Equal(t, []int64{edited.ID}, created)
	deleted, err := handy.All(a.c.DeletedSales(ctx, t0, t0.Add(10*time.Minute), nil))
	require.NoError(t, err)
	require.Len(t, deleted, 1)
	require.Equal(t, orig.ID, deleted[0].ID)
	require.True(t, deleted[0].IsEdited)
	require.Equal(t, edited.DateCreated.Time, deleted[0].DateDeleted.Time, "deleted when the new version was created")

	got, err := a.c.SalesOrder(ctx, edited.ID)
	require.NoError(t, err)
	require.NotNil(t, got.EditedFrom)
	require.Equal(t, orig.ID, got.EditedFrom.ID)
	require.True(t, got.EditedFrom.Deleted)
	require.Equal(t, "1940", got.TotalSales.String())
}

func TestProductsChangedInAWindow(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	a.sim.AddProduct("N-1", "Nuevo", money.MustParse("10"), handysim.IVA(16), at)
	require.NoError(t, a.sim.UpdateProduct("E-001", at.Add(time.Minute), func(p *handy.Product) { p.Description = "Escoba grande" }))
	w := &handy.Window{Field: handy.LastUpdated, Start: at.Add(-time.Minute), End: at.Add(2 * time.Minute)}
	ps, err := handy.All(a.c.Products(context.Background(), w))
	require.NoError(t, err)
	var codes []string
	for _, p := range ps {
		codes = append(codes, p.Code+"="+p.Description)
	}
	require.ElementsMatch(t, []string{"N-1=Nuevo", "E-001=Escoba grande"}, codes)
}

func TestNextPageNeverLeavesTheBaseURL(t *testing.T) {
	t.Parallel()
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.Host+r.URL.Path)
		if r.URL.Query().Get("page") == "1" {
			fmt.Fprint(w, `{"pagination":{"nextPage":"https://elsewhere.example/api/v2/customer?page=2&max=100"},"customers":[{"code":"A"}]}`)
			return
		}
		fmt.Fprint(w, `{"pagination":{"nextPage":null},"customers":[{"code":"B"}]}`)
	}))
	defer srv.Close()
	c, err := handy.New(handy.Options{BaseURL: srv.URL + "/api/v2", Token: token})
	require.NoError(t, err)
	cs, err := handy.All(c.Customers(context.Background()))
	require.NoError(t, err)
	require.Len(t, cs, 2)
	for _, p := range paths {
		require.True(t, strings.HasPrefix(p, strings.TrimPrefix(srv.URL, "http://")), p)
	}
}

func TestSimulatorRefusesBadWindows(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/api/v2/salesOrder?filterWithDate=dateCreated&start=2026-03-02T00:00:00", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	var body struct {
		Errors []map[string]any `json:"errors"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	require.Equal(t, "start", body.Errors[0]["field"])
}

// TestSimulatorRefusesMisnamedWrites: the simulator takes exactly {"externalId": <integer>}, with
// the name matched as Handy matches it (case included), so a client that misnames it fails.
func TestSimulatorRefusesMisnamedWrites(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	o := a.sale(t, time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC))
	put := func(body string) int {
		req, _ := http.NewRequest(http.MethodPut, a.srv.URL+"/api/v2/salesOrder/"+fmt.Sprint(o.ID), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	for _, body := range []string{
		`{"externalID": 5}`, `{"ExternalId": 5}`, `{"external_id": 5}`, `{"externalId": "5"}`,
		`{"externalId": 5.5}`, `{"externalId": 1e3}`, `{"externalId": 99999999999999999999}`,
		`{"externalId": null}`, `{"externalId": 5, "id": 7}`, `{}`, `[5]`,
	} {
		require.Equal(t, http.StatusUnprocessableEntity, put(body), body)
	}
	require.Nil(t, a.sim.Orders()[0].ExternalID, "nothing was written")
	require.Equal(t, http.StatusOK, put(`{"externalId": 5}`))
	require.Equal(t, int64(5), *a.sim.Orders()[0].ExternalID)
}

func TestTimeoutsAreRetried(t *testing.T) {
	t.Parallel()
	a := newAccount(t, func(o *handy.Options) { o.AttemptTimeout = 100 * time.Millisecond })
	a.sim.Inject("GET /customer", handysim.Fault{Hang: true})
	cs, err := handy.All(a.c.Customers(context.Background()))
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, 2, a.sim.Count("GET /customer"))
}

func TestLateMobileSaleIsFoundByArrival(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	arrived := time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC)
	o, err := a.sim.CreateSale(handysim.Sale{Customer: "C-1", Seller: a.seller.ID, At: arrived, MobileAt: arrived.Add(-2 * time.Hour),
		Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(1)}}})
	require.NoError(t, err)
	// A device that was offline: captured two hours before it reached Handy. The created stream
	// windows by arrival, so the sale is in the window that covers its arrival...
	require.Equal(t, []int64{o.ID}, ids(t, a.c.CreatedSales(context.Background(), arrived.Add(-5*time.Minute), arrived.Add(5*time.Minute), nil)))
	// ...and a window on the capture time would have been passed already.
	got, err := handy.All(a.c.SalesOrders(context.Background(), handy.SalesQuery{Window: &handy.Window{Field: handy.MobileDateCreated, Start: arrived.Add(-5 * time.Minute), End: arrived.Add(5 * time.Minute)}}))
	require.NoError(t, err)
	require.Empty(t, got)
}

// TestOptionalTaxLines follows the optional tax (taxOptional, e.g. IEPS) through the reference's
// worked example: product.price includes it; a line carries it only when its taxOptional is set,
// and then its prices include it and totalBeforeTax takes it out with the line's tax.
func TestOptionalTaxLines(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	ctx := context.Background()
	at := time.Date(2023, 2, 26, 7, 14, 32, 0, time.UTC)
	a.sim.AddProduct("M-001", "Mueble", money.MustParse("1750"), handysim.IVA(8), at)
	a.sim.AddProductWithOptionalTax("M-002", "Mesa", money.MustParse("30000"), handysim.IVA(16), handysim.IEPS(8), at)
	a.sim.AddProduct("S-001", "Silla", money.MustParse("1050"), handysim.IVA(16), at)
	three := money.NewFromInt(3)

	// One line that carries IEPS: 37200 × 0.97 = 36084, of which 36084 ÷ 1.24 = 29100 before taxes.
	withIEPS, err := a.sim.CreateSale(handysim.Sale{Customer: "C-1", Seller: a.seller.ID, At: at, Lines: []handysim.Line{
		{Product: "M-002", Quantity: money.NewFromInt(1), DiscountPercent: three, OptionalTax: true},
	}})
	require.NoError(t, err)
	got, err := a.c.SalesOrder(ctx, withIEPS.ID)
	require.NoError(t, err)
	line := got.Items[0]
	require.NotNil(t, line.TaxOptional)
	require.Equal(t, "IEPS", line.TaxOptional.Name)
	require.Equal(t, "8", line.TaxOptional.Amount.String())
	require.Equal(t, "37200", line.OriginalPrice.String(), "30000 × 1.24: with both taxes")
	require.Equal(t, "36084", line.Price.String(), "37200 × 0.97")
	require.Equal(t, "36084", line.Total.String())
	require.Equal(t, "36084", got.TotalSales.String())
	require.Equal(t, "29100", got.TotalBeforeTax.String(), "36084 ÷ (1 + (16 + 8)/100) = 30000 × 0.97")
	require.Equal(t, "6984", got.TotalTax.String())

	// The reference's order 1 (the M-002 line without IEPS) plus that line: the totals add up.
	mixed, err := a.sim.CreateSale(handysim.Sale{Customer: "C-1", Seller: a.seller.ID, At: at, Lines: []handysim.Line{
		{Product: "M-001", Quantity: money.NewFromInt(1), DiscountPercent: three},
		{Product: "M-002", Quantity: money.NewFromInt(1), DiscountPercent: three},
		{Product: "S-001", Quantity: money.NewFromInt(1)},
		{Product: "M-002", Quantity: money.NewFromInt(1), DiscountPercent: three, OptionalTax: true},
	}})
	require.NoError(t, err)
	got, err = a.c.SalesOrder(ctx, mixed.ID)
	require.NoError(t, err)
	require.Nil(t, got.Items[1].TaxOptional)
	require.Equal(t, "34800", got.Items[1].OriginalPrice.String())
	require.NotNil(t, got.Items[3].TaxOptional)
	require.Equal(t, "72891.3", got.TotalSales.String(), "36807.3 + 36084")
	require.Equal(t, "60947.5", got.TotalBeforeTax.String(), "31847.5 + 29100")
	require.Equal(t, "11943.8", got.TotalTax.String(), "4959.8 + 6984")

	// Bind's net unit price, as §3.2 computes it, is the same on both kinds of line.
	for _, it := range got.Items[1:4:4] {
		if it.Product.Code != "M-002" {
			continue
		}
		r := it.Tax.Amount
		if it.TaxOptional != nil {
			r = r.Add(it.TaxOptional.Amount)
		}
		net := it.Price.Div(money.NewFromInt(1).Add(r.Div(money.NewFromInt(100)))).Cents()
		require.Equal(t, "29100", net.String(), "30000 × 0.97 either way")
	}

	_, err = a.sim.CreateSale(handysim.Sale{Customer: "C-1", Seller: a.seller.ID, At: at, Lines: []handysim.Line{
		{Product: "S-001", Quantity: money.NewFromInt(1), OptionalTax: true},
	}})
	require.ErrorContains(t, err, "no optional tax")
}

// Sales deleted while a window is read page by page (an edit deletes the old sale) move the ones
// after them onto pages already read: the listing goes back for them, so every sale still in the
// window is seen. Pages of 100 of 350 sales, the deletions made while the second page is read:
// with one gone, the third page sees 349 and the listing goes back one page (pages 1, 2, 3, 2, 3,
// 4); with 150 gone, back two, and the list now ends on its second page (1, 2, 3, 1, 2).
func TestSalesDeletedWhileListedHideNoOther(t *testing.T) {
	t.Parallel()
	for gone, requests := range map[int]int{1: 6, 150: 5} {
		t.Run(fmt.Sprintf("%d deleted", gone), func(t *testing.T) {
			a := newAccount(t)
			base := time.Now().UTC().Add(-3 * time.Hour)
			var all []int64
			for i := range 350 {
				all = append(all, a.sale(t, base.Add(time.Duration(i)*time.Second)).ID)
			}
			seen := map[int64]bool{}
			n := 0
			for s, err := range a.c.CreatedSales(context.Background(), base.Add(-time.Minute), time.Now().UTC(), nil) {
				require.NoError(t, err)
				seen[s.ID] = true
				if n++; n == 150 { // in the middle of the second page
					for _, id := range all[:gone] {
						require.NoError(t, a.sim.DeleteSale(id, time.Now().UTC(), a.seller.ID))
					}
				}
			}
			for i, id := range all[gone:] {
				require.True(t, seen[id], "sale %d (position %d) was never listed", id, gone+i)
			}
			require.Equal(t, requests, a.sim.Count("GET /salesOrder"))
		})
	}
}
