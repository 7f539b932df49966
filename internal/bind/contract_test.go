package bind_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
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
	closeSchemas(spec)
	// The definition's own examples are placeholders ("string" for dates), so only its schemas are checked.
	require.NoError(t, spec.Validate(context.Background(), openapi3.DisableExamplesValidation()))
	return spec
}

// closeSchemas makes every schema with properties closed, in memory: a property it does not name
// is an error. OpenAPI allows unknown properties unless additionalProperties says otherwise, and
// the definition never says; left open, a misspelt name in a request or an answer would pass the
// check as an extra property while the real one is simply missing.
func closeSchemas(spec *openapi3.T) {
	closed := false
	seen := map[*openapi3.Schema]bool{}
	var walk func(*openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 {
			s.AdditionalProperties = openapi3.AdditionalProperties{Has: &closed}
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		for _, refs := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, r := range refs {
				walk(r)
			}
		}
	}
	for _, ref := range spec.Components.Schemas {
		walk(ref)
	}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil {
					walk(p.Value.Schema)
				}
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					walk(mt.Schema)
				}
			}
			for _, res := range op.Responses.Map() {
				if res.Value != nil {
					for _, mt := range res.Value.Content {
						walk(mt.Schema)
					}
				}
			}
		}
	}
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
// official definition, with every schema closed. It runs against the simulator's default
// behaviour and against the other one the reference leaves open (no nextLink, rounding first).
func TestContractWithOfficialDefinition(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]bindsim.Option{
		"default":                             nil,
		"no nextLink, subtotal rounded first": {bindsim.WithoutNextLink(), bindsim.WithRounding(bindsim.RoundSubtotalFirst)},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			contractScenario(t, bindsim.New(opts...))
		})
	}
}

func contractScenario(t *testing.T, sim *bindsim.Sim) {
	spec := officialDefinition(t)
	co := newCompanyOf(t, sim)
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
	for i := range 105 { // enough for a second page
		id, err := co.c.CreateProduct(ctx, bind.NewProduct{
			Code: fmt.Sprintf("C-%03d", i), Title: "Producto", Description: "Descripción", SKU: "S",
			Cost: money.MustParse("1.5"), Price: money.MustParse("86.2069"), CurrencyID: co.mxn,
		})
		require.NoError(t, err)
		pid = id
	}
	chargeVAT := true
	require.NoError(t, co.c.EditProduct(ctx, bind.EditProduct{ID: pid, Code: "C-104", Title: "Otro", Cost: money.MustParse("2"), CurrencyID: co.mxn, Unit: "Pieza", ChargeVAT: chargeVAT}))
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
	}, bind.NewOrderProduct{ // the per-line taxes too
		ID: pid, Price: money.MustParse("14.846743295"), Qty: money.NewFromInt(6), IEPS: money.MustParse("0.08"),
	}, bind.NewOrderProduct{ID: pid, Price: money.MustParse("24.5"), Qty: money.NewFromInt(2), VATExempt: true}))
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
	for name, tc := range map[string]struct {
		rec  bindsim.Request
		want string
	}{
		"NewProduct with EditProduct's CurrencyID": {bindsim.Request{
			Method: "POST", Path: "/api/Products", Status: 200, ContentType: "application/json",
			Body: []byte(`{"Title":"t","Cost":1,"Price":1,"CurrencyID":"` + id + `","Code":"c"}`), Response: []byte(`"` + id + `"`),
		}, `property "CurrencyID" is unsupported`},
		"NewOrder without AddressID": {bindsim.Request{
			Method: "POST", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Body:     []byte(`{"ClientID":"` + id + `","CurrencyID":"` + id + `","LocationID":"` + id + `","OrderDate":"2026-01-01T00:00:00","PriceListID":"` + id + `","WarehouseID":"` + id + `"}`),
			Response: []byte(`"` + id + `"`),
		}, `property "AddressID" is missing`},
		"order list with a text Status": {bindsim.Request{
			Method: "GET", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Response: []byte(`{"value":[{"ID":"` + id + `","Status":"Activo"}],"count":1}`),
		}, `"/value/0/Status": value must be an integer`},
		"a create answering an object instead of the bare id": {bindsim.Request{
			Method: "POST", Path: "/api/Clients", Status: 200, ContentType: "application/json",
			Body:     []byte(`{"LegalName":"a","CommercialName":"a","RFC":"XAXX010101000","CreditDays":0,"CreditAmount":0,"PriceListID":"` + id + `","AccountingNumber":"1"}`),
			Response: []byte(`{"ID":"` + id + `"}`),
		}, `value must be a string`},
		"a page with a null nextLink": {bindsim.Request{
			Method: "GET", Path: "/api/PriceLists", Status: 200, ContentType: "application/json",
			Response: []byte(`{"value":[],"nextLink":null,"count":0}`),
		}, `"/nextLink": Value is not nullable`},
		"a misspelt request property": {bindsim.Request{
			Method: "POST", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Body:     []byte(`{"AddressID":"` + id + `","ClientID":"` + id + `","CurrencyID":"` + id + `","LocationID":"` + id + `","OrderDate":"2026-01-01T00:00:00","PriceListID":"` + id + `","WarehouseID":"` + id + `","PurchaseOrdr":"HANDY-1"}`),
			Response: []byte(`"` + id + `"`),
		}, `property "PurchaseOrdr" is unsupported`},
		"a misspelt property of an order line": {bindsim.Request{
			Method: "POST", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Body:     []byte(`{"AddressID":"` + id + `","ClientID":"` + id + `","CurrencyID":"` + id + `","LocationID":"` + id + `","OrderDate":"2026-01-01T00:00:00","PriceListID":"` + id + `","WarehouseID":"` + id + `","Products":[{"ID":"` + id + `","Price":1,"Qty":1,"Comment":"x"}]}`),
			Response: []byte(`"` + id + `"`),
		}, `property "Comment" is unsupported`},
		"a request property with other capitals": {bindsim.Request{
			Method: "POST", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Body:     []byte(`{"AddressID":"` + id + `","ClientID":"` + id + `","CurrencyID":"` + id + `","LocationID":"` + id + `","OrderDate":"2026-01-01T00:00:00","PriceListID":"` + id + `","WarehouseID":"` + id + `","VatRate":0.16}`),
			Response: []byte(`"` + id + `"`),
		}, `property "VatRate" is unsupported`},
		"a misspelt response property": {bindsim.Request{
			Method: "GET", Path: "/api/Clients/" + id, Status: 200, ContentType: "application/json",
			Response: []byte(`{"ID":"` + id + `","Adresses":["` + id + `"]}`),
		}, `property "Adresses" is unsupported`},
		"a misspelt property inside a page": {bindsim.Request{
			Method: "GET", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Response: []byte(`{"value":[{"ID":"` + id + `","Status":0,"Totl":116.04}],"count":1}`),
		}, `property "Totl" is unsupported`},
		"client details with LocationID for LoctaionID": {bindsim.Request{
			Method: "GET", Path: "/api/Clients/" + id, Status: 200, ContentType: "application/json",
			Response: []byte(`{"ID":"` + id + `","LocationID":"` + id + `"}`),
		}, `property "LocationID" is unsupported`},
		"price and inventory with Description for Descripcion": {bindsim.Request{
			Method: "GET", Path: "/api/ProductsPriceAndInventory", Query: "warehouseId=" + id + "&priceListId=" + id, Status: 200, ContentType: "application/json",
			Response: []byte(`[{"ID":"` + id + `","Description":"x"}]`),
		}, `property "Description" is unsupported`},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorContains(t, validateExchange(router, "http://bind.test", tc.rec), tc.want)
		})
	}

	// The same exchanges, spelt right, pass: the failures above are the mistakes, not the setup.
	for name, rec := range map[string]bindsim.Request{
		"an order with PurchaseOrder and a line": {
			Method: "POST", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Body:     []byte(`{"AddressID":"` + id + `","ClientID":"` + id + `","CurrencyID":"` + id + `","LocationID":"` + id + `","OrderDate":"2026-01-01T00:00:00","PriceListID":"` + id + `","WarehouseID":"` + id + `","PurchaseOrder":"HANDY-1","VATRate":0.16,"Products":[{"ID":"` + id + `","Price":1,"Qty":1,"Comments":"x"}]}`),
			Response: []byte(`"` + id + `"`),
		},
		"client details": {
			Method: "GET", Path: "/api/Clients/" + id, Status: 200, ContentType: "application/json",
			Response: []byte(`{"ID":"` + id + `","LoctaionID":"` + id + `","Addresses":["` + id + `"]}`),
		},
		"an order page": {
			Method: "GET", Path: "/api/Orders", Status: 200, ContentType: "application/json",
			Response: []byte(`{"value":[{"ID":"` + id + `","Status":0,"Total":116.04}],"count":1}`),
		},
		"price and inventory": {
			Method: "GET", Path: "/api/ProductsPriceAndInventory", Query: "warehouseId=" + id + "&priceListId=" + id, Status: 200, ContentType: "application/json",
			Response: []byte(`[{"ID":"` + id + `","Descripcion":"x"}]`),
		},
	} {
		t.Run("spelt right: "+name, func(t *testing.T) {
			require.NoError(t, validateExchange(router, "http://bind.test", rec))
		})
	}
}

// TestClientTypesSpellTheDefinition compares the client's types with the definition's schemas:
// every JSON name is a property of the schema, spelt the same (capitals included), of a matching
// JSON type, and every property a schema requires has a field. Unlike the exchanges above, it
// covers fields no scenario fills and no test reads.
func TestClientTypesSpellTheDefinition(t *testing.T) {
	t.Parallel()
	spec := officialDefinition(t)
	for _, tc := range []struct {
		v      any
		schema string
	}{
		{bind.UserProfile{}, "UserProfile"},
		{bind.Page[bind.PriceList]{}, "PriceListPage"},
		{bind.Page[bind.Currency]{}, "CurrencyPage"},
		{bind.Page[bind.Warehouse]{}, "WarehousePage"},
		{bind.Page[bind.Location]{}, "LocationPage"},
		{bind.Page[bind.Account]{}, "AccountPage"},
		{bind.Page[bind.User]{}, "UserPage"},
		{bind.Page[bind.Product]{}, "ProductPage"},
		{bind.ProductDetails{}, "ProductDetails"},
		{bind.NewProduct{}, "NewProduct"},
		{bind.EditProduct{}, "EditProduct"},
		{[]bind.ProductPriceAndInventory{}, "ProductPriceAndInventoryArray"},
		{bind.Page[bind.ClientListItem]{}, "ClientListItemPage"},
		{bind.ClientDetails{}, "ClientDetails"},
		{bind.NewClient{}, "NewClient"},
		{bind.Page[bind.OrderListItem]{}, "OrderListItemPage"},
		{bind.OrderDetails{}, "OrderDetails"},
		{bind.NewOrder{}, "NewOrder"},
	} {
		ref := spec.Components.Schemas[tc.schema]
		require.NotNil(t, ref, tc.schema)
		for _, problem := range compareType(reflect.TypeOf(tc.v), ref.Value, tc.schema) {
			t.Error(problem)
		}
	}
}

var (
	decimalType = reflect.TypeFor[money.Decimal]()
	timeType    = reflect.TypeFor[bind.Time]()
)

// compareType lists where a Go type disagrees with a schema; at names the place for messages.
func compareType(t reflect.Type, s *openapi3.Schema, at string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	want := func(typ string) []string {
		if !s.Type.Is(typ) {
			return []string{fmt.Sprintf("%s: the client has %s, the definition %v", at, t, s.Type.Slice())}
		}
		return nil
	}
	switch {
	case t == decimalType:
		return want("number")
	case t == timeType:
		if problems := want("string"); problems != nil || s.Format == "date-time" {
			return problems
		}
		return []string{fmt.Sprintf("%s: the client has a date-time, the definition format %q", at, s.Format)}
	case t.Kind() == reflect.String:
		return want("string")
	case t.Kind() == reflect.Bool:
		return want("boolean")
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Int64:
		return want("integer")
	case t.Kind() == reflect.Slice:
		if problems := want("array"); problems != nil {
			return problems
		}
		return compareType(t.Elem(), s.Items.Value, at+"[]")
	case t.Kind() == reflect.Struct:
		if problems := want("object"); problems != nil {
			return problems
		}
		var problems []string
		names := map[string]bool{}
		for _, f := range jsonFields(t) {
			name := jsonName(f)
			names[name] = true
			prop := s.Properties[name]
			if prop == nil {
				problem := fmt.Sprintf("%s: the client's %s is sent or read as %q, which the definition does not name", at, f.Name, name)
				for p := range s.Properties {
					if strings.EqualFold(p, name) {
						problem += fmt.Sprintf(" (it spells it %q)", p)
					}
				}
				problems = append(problems, problem)
				continue
			}
			ft := f.Type
			if _, opts, _ := strings.Cut(f.Tag.Get("json"), ","); slices.Contains(strings.Split(opts, ","), "string") {
				ft = reflect.TypeFor[string]() // the ",string" option writes a number as text
			}
			problems = append(problems, compareType(ft, prop.Value, at+"."+name)...)
		}
		for _, req := range s.Required {
			if !names[req] {
				problems = append(problems, fmt.Sprintf("%s: the definition requires %q, which the client has no field for", at, req))
			}
		}
		return problems
	}
	return []string{fmt.Sprintf("%s: the client's %s has no JSON type to compare", at, t)}
}

// jsonFields lists a struct's fields as encoding/json sees them, embedded structs flattened.
func jsonFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if jsonName(f) != "-" && f.IsExported() {
			out = append(out, f)
		}
	}
	return out
}

// jsonName is the name encoding/json gives a field.
func jsonName(f reflect.StructField) string {
	if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
		return name
	}
	return f.Name
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
