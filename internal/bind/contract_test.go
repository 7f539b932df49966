package bind_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/money"
)

// officialDefinition loads Bind's official OpenAPI definition from the shared reference folder
// beside the repository (HANDYBIND_BIND_OPENAPI overrides the path). The file names one schema
// it never defines (the PDF answer of GET /api/Invoices/{id}/pdf); it is added as an empty schema
// in memory, and the file itself is never changed.
func officialDefinition(t *testing.T) *openapi3.T {
	t.Helper()
	path := os.Getenv("HANDYBIND_BIND_OPENAPI")
	if path == "" {
		wd, err := os.Getwd()
		require.NoError(t, err)
		for dir := wd; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				path = filepath.Join(filepath.Dir(dir), "shared", "reference", "bind-erp-api.openapi3.json")
				break
			}
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the official Bind definition is required in CI: %v", err)
		}
		t.Skipf("contract test skipped: the official Bind definition is not at %s (%v); set HANDYBIND_BIND_OPENAPI", path, err)
	}
	var doc map[string]any
	require.NoError(t, json.Unmarshal(raw, &doc))
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	schemas["ApiInvoicesIdPdfGet200ApplicationOctet-streamResponse"] = map[string]any{}
	patched, err := json.Marshal(doc)
	require.NoError(t, err)

	spec, err := openapi3.NewLoader().LoadFromData(patched)
	require.NoError(t, err)
	// The definition's own examples are placeholders ("string" for dates), so only its schemas are checked.
	require.NoError(t, spec.Validate(context.Background(), openapi3.DisableExamplesValidation()))
	return spec
}

// Bind writes date-times without an offset ("2024-09-25T00:00:00", in the company's zone), which
// the strict RFC 3339 check of "date-time" would refuse; the offset is made optional, nothing else.
// GUIDs are checked for shape.
func init() {
	openapi3.DefineStringFormatValidator("date-time", openapi3.NewRegexpFormatValidator(
		`^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$`))
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`))
}

// TestContractWithOfficialDefinition drives every call the client makes against the simulator,
// then checks every request the client sent and every answer the simulator gave against Bind's
// official definition.
func TestContractWithOfficialDefinition(t *testing.T) {
	t.Parallel()
	spec := officialDefinition(t)
	co := newCompany(t)
	ctx := context.Background()

	// Every call of the client, with every optional part the sync uses.
	_, err := co.c.UserProfile(ctx)
	require.NoError(t, err)
	for _, seq := range []func() error{
		func() error { _, err := bind.All(co.c.PriceLists(ctx, bind.Query{OrderBy: "Name"})); return err },
		func() error {
			_, err := bind.All(co.c.Currencies(ctx, bind.Query{Filter: bind.Eq("Code", "MXN")}))
			return err
		},
		func() error { _, err := bind.All(co.c.Warehouses(ctx, bind.Query{})); return err },
		func() error { _, err := bind.All(co.c.Locations(ctx, bind.Query{})); return err },
		func() error {
			_, err := bind.All(co.c.Accounts(ctx, bind.Query{Filter: bind.Eq("Number", "105-01-001")}))
			return err
		},
		func() error { _, err := bind.All(co.c.Users(ctx, bind.Query{})); return err },
	} {
		require.NoError(t, seq())
	}
	var pid string
	for i := range 105 { // enough for a second page, with nextLink
		id, err := co.c.CreateProduct(ctx, bind.NewProduct{
			Code: fmt.Sprintf("C-%03d", i), Title: "Producto", Description: "Descripción", SKU: "S",
			Cost: money.MustParse("1.5"), Price: money.MustParse("86.2069"), CurrencyID: co.mxn,
		})
		require.NoError(t, err)
		pid = id
	}
	chargeVAT := true
	require.NoError(t, co.c.EditProduct(ctx, bind.EditProduct{ID: pid, Code: "C-104", Title: "Otro", Cost: money.MustParse("2"), CurrencyID: co.mxn, Unit: "Pieza", ChargeVAT: &chargeVAT}))
	_, err = bind.All(co.c.Products(ctx, bind.Query{OrderBy: "Code desc"}))
	require.NoError(t, err)
	_, err = co.c.Product(ctx, pid)
	require.NoError(t, err)
	_, err = co.c.ProductsPriceAndInventory(ctx, co.almacen, co.general)
	require.NoError(t, err)

	cid, addr := co.client(t, "Abarrotes Lupita")
	_, err = bind.All(co.c.Clients(ctx, bind.Query{Filter: bind.Contains("ClientName", "Lupita")}))
	require.NoError(t, err)
	oid, err := co.c.CreateOrder(ctx, co.order(cid, addr, "HANDY-1", bind.NewOrderProduct{
		ID: pid, Price: money.MustParse("86.2069"), Qty: money.NewFromInt(2), Comments: "sin hielo", Unit: "Pieza",
	}))
	require.NoError(t, err)
	byPO, err := bind.All(co.c.Orders(ctx, bind.Query{Filter: bind.Eq("PurchaseOrder", "HANDY-1")}))
	require.NoError(t, err)
	require.Len(t, byPO, 1)
	_, err = co.c.Order(ctx, oid)
	require.NoError(t, err)
	require.NoError(t, co.c.DeleteOrder(ctx, oid))
	_, err = co.c.Order(ctx, oid) // cancelled, still readable
	require.NoError(t, err)

	spec.Servers = openapi3.Servers{{URL: co.srv.URL}}
	router, err := gorillamux.NewRouter(spec)
	require.NoError(t, err)

	seen := map[string]bool{}
	for _, rec := range co.sim.Requests() {
		seen[rec.Route] = true
		checkExchange(t, router, co.srv.URL, rec)
	}
	var routes []string
	for r := range seen {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	require.Equal(t, []string{
		"DELETE /api/Orders/{id}",
		"GET /api/Accounts", "GET /api/Clients", "GET /api/Clients/{id}", "GET /api/Currencies",
		"GET /api/Locations", "GET /api/Orders", "GET /api/Orders/{id}", "GET /api/PriceLists",
		"GET /api/Products", "GET /api/Products/{id}", "GET /api/ProductsPriceAndInventory",
		"GET /api/UserProfile", "GET /api/Users", "GET /api/Warehouses",
		"POST /api/Clients", "POST /api/Orders", "POST /api/Products", "PUT /api/Products",
	}, routes, "every route the simulator serves was exercised and checked")
}

// TestContractCheckerCatchesMistakes shows the check above has teeth: the quirks the client must
// get right fail it when they are wrong.
func TestContractCheckerCatchesMistakes(t *testing.T) {
	t.Parallel()
	spec := officialDefinition(t)
	spec.Servers = openapi3.Servers{{URL: "http://bind.test"}}
	router, err := gorillamux.NewRouter(spec)
	require.NoError(t, err)
	const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	for name, rec := range map[string]bindsim.Request{
		"NewProduct with EditProduct's CurrencyID": {
			Method: "POST", Path: "/api/Products", Status: 200, ContentType: "application/json",
			Body: []byte(`{"Title":"t","Cost":1,"Price":1,"CurrencyID":"` + id + `","Code":"c"}`), Response: []byte(`"` + id + `"`),
		},
		"NewOrder without AddressID": {
			Method: "POST", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Body:     []byte(`{"ClientID":"` + id + `","CurrencyID":"` + id + `","LocationID":"` + id + `","OrderDate":"2026-01-01T00:00:00","PriceListID":"` + id + `","WarehouseID":"` + id + `"}`),
			Response: []byte(`"` + id + `"`),
		},
		"order list with a text Status": {
			Method: "GET", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Response: []byte(`{"value":[{"ID":"` + id + `","Status":"Activo"}],"count":1}`),
		},
		"a create answering an object instead of the bare id": {
			Method: "POST", Path: "/api/Clients", Status: 200, ContentType: "application/json",
			Body:     []byte(`{"LegalName":"a","CommercialName":"a","RFC":"XAXX010101000","CreditDays":0,"CreditAmount":0,"PriceListID":"` + id + `","AccountingNumber":"1"}`),
			Response: []byte(`{"ID":"` + id + `"}`),
		},
		"a page with a null nextLink": {
			Method: "GET", Path: "/api/PriceLists", Status: 200, ContentType: "application/json",
			Response: []byte(`{"value":[],"nextLink":null,"count":0}`),
		},
	} {
		t.Run(name, func(t *testing.T) {
			require.Error(t, validateExchange(router, "http://bind.test", rec))
		})
	}
}

var bindPath = regexp.MustCompile(`^/api/`)

func checkExchange(t *testing.T, router routers.Router, base string, rec bindsim.Request) {
	t.Helper()
	require.Regexp(t, bindPath, rec.Path)
	if rec.Status >= 300 {
		t.Fatalf("%s answered %d in the contract scenario: %s", rec.Route, rec.Status, rec.Response)
	}
	require.NoError(t, validateExchange(router, base, rec))
}

// validateExchange checks one request and its answer against the definition.
func validateExchange(router routers.Router, base string, rec bindsim.Request) error {
	target := base + rec.Path
	if rec.Query != "" {
		target += "?" + rec.Query
	}
	req, err := http.NewRequest(rec.Method, target, bytes.NewReader(rec.Body))
	if err != nil {
		return err
	}
	if len(rec.Body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s is not an operation of the official definition: %w", rec.Method, rec.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return fmt.Errorf("request %s %s body %s: %w", rec.Method, target, rec.Body, err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Status,
		Header:                 http.Header{"Content-Type": {strings.TrimSpace(rec.ContentType)}},
		Options:                &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true},
	}
	out.SetBodyBytes(rec.Response)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("response of %s %s: %s: %w", rec.Method, rec.Path, rec.Response, err)
	}
	return nil
}
