package handy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
)

// The Handy contract: the JSON shapes of Handy's API v2 as its reference (handy-api.md, §1.3 and
// §3) names them, independently of both the client's types and the simulator's. The simulator's
// answers must have exactly these properties, with these JSON types; the client's JSON names must
// all be here; and the client must read a fixture written from the reference's examples.

// jsonKind is the JSON type of a property.
type jsonKind int

const (
	kInt    jsonKind = iota + 1 // an integer (a Java Long or Integer: ids, counts)
	kNumber                     // any number (a Java Double: amounts, rates, quantities)
	kString
	kBool
	kDate   // ISO-8601 in UTC with "Z", e.g. "2023-02-26T07:14:32Z"
	kURL    // an absolute http(s) URL
	kObject // an object of the shape named by prop.shape
	kArray  // an array of objects of the shape named by prop.shape
	kAny    // the reference names the field but not its type
)

// prop is one documented property.
type prop struct {
	kind  jsonKind
	shape string   // kObject, kArray: the shape of the value or of each element
	null  bool     // null is a valid value
	opt   bool     // may be absent (the table says why)
	enum  []string // kString: the only valid values
	min   int64    // kInt with min<max: the valid range
	max   int64
}

func p(k jsonKind) prop                  { return prop{kind: k} }
func obj(shape string) prop              { return prop{kind: kObject, shape: shape} }
func arr(shape string) prop              { return prop{kind: kArray, shape: shape} }
func oneOf(values ...string) prop        { return prop{kind: kString, enum: values} }
func (x prop) orNull() prop              { x.null = true; return x }
func (x prop) optional() prop            { x.opt = true; return x }
func (x prop) between(lo, hi int64) prop { x.min, x.max = lo, hi; return x }

type shape map[string]prop

var (
	operativeStatuses = []string{"PENDING_DELIVERY", "ON_ROUTE", "PARTIAL_DELIVERED_OPEN", "PARTIAL_DELIVERED_CLOSED", "DELIVERED_COMPLETE", "RETURNED", "CLOSED"}
	prettyStatuses    = []string{"Por entregar", "En ruta", "Entrega parcial", "Cerrado - Entrega parcial", "Entrega completa", "Devuelto", "Cerrado"}
)

// handyShapes is the contract. Where the reference gives no type, the type is the one of its
// examples; nullability follows the examples and the SDK's boxed types.
var handyShapes = map[string]shape{
	// §1.3: the paging object; the links are full URLs or null.
	"pagination": {
		"totalCount": p(kInt), "totalPages": p(kInt),
		"currentPage": p(kURL).orNull(), "nextPage": p(kURL).orNull(), "prevPage": p(kURL).orNull(),
		"firstPage": p(kURL).orNull(), "lastPage": p(kURL).orNull(),
	},
	// The list envelopes of §1.3 and §2.
	"usersPage":       {"pagination": obj("pagination"), "users": arr("user")},
	"productsPage":    {"pagination": obj("pagination"), "products": arr("product")},
	"customersPage":   {"pagination": obj("pagination"), "customers": arr("customer")},
	"salesOrdersPage": {"pagination": obj("pagination"), "salesOrders": arr("salesOrder")},

	// §3.4: a user embedded in a record (createdBy, deletedBy). extras is optional: the older
	// example of the sync guide has none.
	"userRef": {
		"id": p(kInt), "name": p(kString), "username": p(kString), "enabled": p(kBool),
		"extras": p(kString).orNull().optional(),
	},
	// §3.4: an item of GET /user (the third party's verified list, plus username from the guide).
	// extras is optional: the reference only infers that list items carry it.
	"user": {
		"id": p(kInt), "name": p(kString), "username": p(kString), "email": p(kString).orNull(),
		"enabled": p(kBool), "role": obj("role"), "lastUpdated": p(kDate), "pictureUrl": p(kURL),
		"extras": p(kString).orNull().optional(),
	},
	"role": {"id": p(kInt), "authority": p(kString)},

	// §3.2, §3.5: taxes; amount is a percentage.
	"tax": {"id": p(kInt), "name": p(kString), "amount": p(kNumber), "enabled": p(kBool)},
	// Families, categories and order types.
	"ref":       {"id": p(kInt), "description": p(kString), "enabled": p(kBool)},
	"zone":      {"id": p(kInt), "description": p(kString), "color": p(kString), "enabled": p(kBool)},
	"unit":      {"id": p(kInt), "code": p(kString), "description": p(kString).orNull(), "enabled": p(kBool)},
	"priceList": {"id": p(kInt), "code": p(kString), "name": p(kString), "enabled": p(kBool)},

	// §3.5: a product, in GET /product and in every sale line. satProduct and satUnit are named
	// without a type or an example: optional, of any type.
	"product": {
		"id": p(kInt), "code": p(kString), "description": p(kString), "details": p(kString).orNull(),
		"price": p(kNumber), "basePrice": p(kNumber), "minimumPrice": p(kNumber).orNull(),
		"tax": obj("tax"), "taxOptional": obj("tax").orNull(), "quantity": p(kNumber).orNull(),
		"barcode": p(kString).orNull(), "unit": obj("unit"), "family": obj("ref"), "category": obj("ref").orNull(),
		"enabled": p(kBool), "applyDiscounts": p(kBool), "hasBeenSold": p(kBool),
		"satProductCode": p(kString).orNull(), "satUnitCode": p(kString).orNull(),
		"satProduct": p(kAny).orNull().optional(), "satUnit": p(kAny).orNull().optional(),
		"pictureUrl": p(kURL).orNull(), "externalId": p(kAny).orNull(),
		"boostSales": p(kBool), "boostSalesDescription": p(kString).orNull(),
		"createdBy": obj("userRef").orNull(), "lastUpdatedBy": obj("userRef").orNull(),
		"dateCreated": p(kDate), "lastUpdated": p(kDate),
	},

	// §3.3: a customer as the SDK embeds it in an order. The fields of the third party's GET
	// /customer list are optional. "rfc" is NOT in the reference (§3.3, §8 question 2: the JSON
	// name of the RFC is unknown); it is this project's assumption, optional, and must be checked
	// against a live account.
	"customer": {
		"id": p(kInt), "code": p(kString), "description": p(kString), "businessName": p(kString).orNull(),
		"address": p(kString).orNull(), "neighborhood": p(kString).orNull(), "city": p(kString).orNull(),
		"postalCode": p(kString).orNull(), "comments": p(kString).orNull(),
		"zone": obj("zone"), "priceList": obj("priceList").orNull(),
		"balance": p(kNumber), "credit": p(kNumber), "enabled": p(kBool),
		"fiscalRegime": p(kString).orNull(), "cfdiUse": p(kString).orNull(),
		"paymentForms": p(kString).orNull(), "paymentMethods": p(kString).orNull(),
		"facturamaCustomerId": p(kAny).orNull(),
		// GET /customer, third party only.
		"phoneNumber": p(kString).orNull().optional(), "email": p(kString).orNull().optional(),
		"paymentType": p(kAny).orNull().optional(), "paymentTypeDefault": p(kAny).orNull().optional(),
		"creditDays": p(kNumber).orNull().optional(), "effectiveSaleThreshold": p(kNumber).orNull().optional(),
		"latitude": p(kNumber).orNull().optional(), "longitude": p(kNumber).orNull().optional(),
		"category": obj("customerCategory").orNull().optional(),
		// Not in the reference: the project's assumption.
		"rfc": p(kString).orNull().optional(),
	},
	"customerCategory": {"description": p(kString)},

	// §3.2: a sale line. discount is text (free text or a number as text).
	"item": {
		"id": p(kInt), "product": obj("product"), "quantity": p(kNumber), "price": p(kNumber),
		"total": p(kNumber), "originalPrice": p(kNumber), "discount": p(kString).orNull(),
		"discountPercentage": p(kNumber), "tax": obj("tax"), "taxOptional": obj("tax").orNull(),
		"priceType": oneOf("REGULAR", "REWARD"), "isReward": p(kBool), "isReturn": p(kBool),
		"promoIds": p(kString).orNull(), "promoNames": p(kString).orNull(),
		"delivered": p(kNumber).orNull(), "comments": p(kString).orNull(),
	},

	// §3.1: a sale, with every field of the data dictionary and of the SDK example.
	"salesOrder": {
		"id": p(kInt), "mobileDateCreated": p(kDate), "dateCreated": p(kDate),
		"customer": obj("customer"), "createdBy": obj("userRef"), "items": arr("item"),
		"type": obj("ref"), "priceList": obj("priceList").orNull(),
		"totalSales": p(kNumber), "totalTax": p(kNumber), "totalBeforeTax": p(kNumber),
		"scheduledDateForDelivery": p(kDate).orNull(), "sellerComment": p(kString).orNull(),
		"exported": p(kBool), "billable": p(kBool), "billed": p(kBool),
		"routeSalePaymentType": oneOf("Crédito", "Contado", "Credit", "Cash").orNull(),
		"latitude":             p(kNumber).orNull(), "longitude": p(kNumber).orNull(), "accuracy": p(kNumber).orNull(),
		"tookInPlace": p(kBool), "promoIds": p(kString).orNull(), "promoNames": p(kString).orNull(),
		"networkSignalQuality": p(kInt).between(-1, 5), "creationSource": oneOf("WEB", "MOBILE", "API", "IMPORT"),
		"deleted": p(kBool), "dateDeleted": p(kDate).orNull(), "deletedBy": obj("userRef").orNull(),
		"isEdited": p(kBool), "editedFrom": obj("salesOrder").orNull(), "salesType": p(kString),
		"externalId": p(kInt).orNull(), "operativeStatus": oneOf(operativeStatuses...),
		"prettyOperativeStatus": oneOf(prettyStatuses...),
	},

	// §1.5: the error answer.
	"errors": {"errors": arr("error")},
	"error":  {"object": p(kString), "field": p(kString).orNull(), "rejected-value": p(kAny).orNull(), "message": p(kString)},
}

var isoUTC = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$`)

// checkJSON checks a JSON document against a shape and returns every departure, each with its
// JSON path.
func checkJSON(raw []byte, shapeName string) []string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var errs []string
	checkValue(&errs, "$", v, obj(shapeName))
	return errs
}

func checkObject(errs *[]string, path string, v any, shapeName string) {
	m, ok := v.(map[string]any)
	if !ok {
		*errs = append(*errs, fmt.Sprintf("%s: want an object (%s), got %T", path, shapeName, v))
		return
	}
	sh, ok := handyShapes[shapeName]
	if !ok {
		panic("no shape " + shapeName)
	}
	for _, name := range slices.Sorted(maps.Keys(m)) {
		pr, known := sh[name]
		if !known {
			*errs = append(*errs, fmt.Sprintf("%s.%s: the reference names no such property of a %s", path, name, shapeName))
			continue
		}
		checkValue(errs, path+"."+name, m[name], pr)
	}
	for name, pr := range sh {
		if _, present := m[name]; !present && !pr.opt {
			*errs = append(*errs, fmt.Sprintf("%s.%s: missing (a %s always has it)", path, name, shapeName))
		}
	}
}

func checkValue(errs *[]string, path string, v any, pr prop) {
	bad := func(format string, args ...any) {
		*errs = append(*errs, path+": "+fmt.Sprintf(format, args...))
	}
	if v == nil {
		if !pr.null {
			bad("null where the reference has a value")
		}
		return
	}
	switch pr.kind {
	case kInt:
		n, ok := v.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 64)
		if !ok || err != nil {
			bad("want an integer, got %v", v)
		} else if pr.min < pr.max && (i < pr.min || i > pr.max) {
			bad("%d is out of the range %d..%d", i, pr.min, pr.max)
		}
	case kNumber:
		if _, ok := v.(json.Number); !ok {
			bad("want a number, got %T %v", v, v)
		}
	case kString:
		s, ok := v.(string)
		if !ok {
			bad("want a string, got %T %v", v, v)
		} else if pr.enum != nil && !slices.Contains(pr.enum, s) {
			bad("%q is not one of %v", s, pr.enum)
		}
	case kBool:
		if _, ok := v.(bool); !ok {
			bad("want true or false, got %T %v", v, v)
		}
	case kDate:
		if s, ok := v.(string); !ok || !isoUTC.MatchString(s) {
			bad("want an ISO-8601 UTC date with Z, got %v", v)
		}
	case kURL:
		s, ok := v.(string)
		u, err := url.Parse(s)
		if !ok || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("want an absolute URL, got %v", v)
		}
	case kObject:
		checkObject(errs, path, v, pr.shape)
	case kArray:
		list, ok := v.([]any)
		if !ok {
			bad("want an array, got %T", v)
			return
		}
		for i, el := range list {
			checkObject(errs, fmt.Sprintf("%s[%d]", path, i), el, pr.shape)
		}
	case kAny:
		if _, isObj := v.(map[string]any); isObj {
			bad("an object where the reference shows a plain value")
		}
	}
}

// responseShape is what each route of the simulator answers with on success.
var responseShape = map[string]string{
	"GET /user":                     "usersPage",
	"GET /product":                  "productsPage",
	"GET /customer":                 "customersPage",
	"GET /customer/{code}":          "customer",
	"GET /salesOrder":               "salesOrdersPage",
	"GET /salesOrder/{id}":          "salesOrder",
	"GET /salesOrder/external/{id}": "salesOrder",
	// The reference gives only the status (200) of the PUT; the simulator answers the order.
	"PUT /salesOrder/{id}": "salesOrder",
}

// queryParams are the query parameters each list takes (§2, §5.1, §6).
var queryParams = map[string][]string{
	"GET /user":       {"page", "max", "enabled", "role", "name"},
	"GET /product":    {"page", "max", "enabled", "filterWithDate", "start", "end"},
	"GET /customer":   {"page", "max"},
	"GET /salesOrder": {"deleted", "start", "end", "page", "max", "order", "sort", "exported", "billable", "billed", "salesType", "filterWithDate"},
}

// dateFields are the filterWithDate values each list knows (§4, §6).
var dateFields = map[string][]string{
	"GET /product":    {"lastUpdated", "dateCreated"},
	"GET /salesOrder": {"mobileDateCreated", "dateCreated", "dateDeleted"},
}

var requestDate = regexp.MustCompile(`^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}$`)

// TestContractSimulatorAnswersAsDocumented drives the real client against the simulator over HTTP
// through everything the sync does (and the errors it meets), then checks every answer the
// simulator gave and every request the client sent against the reference.
func TestContractSimulatorAnswersAsDocumented(t *testing.T) {
	t.Parallel()
	a := newAccount(t)
	ctx := context.Background()
	s := a.sim
	at := time.Date(2026, 3, 2, 15, 0, 0, 0, time.UTC)

	admin := s.AddUser(handy.User{Name: "Ana Admin", Username: "ana@example.com", Email: "ana@example.com", Enabled: true, Role: &handy.Role{ID: 1, Authority: "ROLE_ADMIN"}})
	business := "Abarrotes Lupita SA de CV"
	s.AddCustomer(handy.Customer{
		Code: "C-2", Description: "Abarrotes Lupita", BusinessName: &business, RFC: "LULA800101AB1",
		Address: "Av. Juárez 100", Neighborhood: "Centro", City: "Monterrey", PostalCode: "64000",
		PhoneNumber: "8112345678", Email: "lupita@example.com", Comments: "Cerrado los domingos",
		Zone:      &handy.Ref{ID: 12, Description: "Zona Centro", Enabled: true},
		PriceList: &handy.PriceListRef{ID: 301, Code: "LP-GENERAL", Name: "Lista general", Enabled: true},
	})
	for i := range 100 { // a second page of customers, with page links
		s.AddCustomer(handy.Customer{Code: fmt.Sprintf("K-%03d", i), Description: "Cliente"})
	}
	s.AddProduct("M-001", "Mueble", money.MustParse("1750"), handysim.IVA(8), at)
	s.AddProductWithOptionalTax("M-002", "Mesa", money.MustParse("30000"), handysim.IVA(16), handysim.IEPS(8), at)
	require.NoError(t, s.UpdateProduct("M-001", at.Add(time.Minute), func(p *handy.Product) {
		p.Details, p.Barcode = "Mueble de madera", "7501234567890"
		p.Category = &handy.Ref{ID: 3, Description: "Comedor", Enabled: true}
	}))

	plain := a.sale(t, at)
	mixed, err := s.CreateSale(handysim.Sale{Customer: "C-2", Seller: a.seller.ID, At: at.Add(time.Minute), MobileAt: at.Add(-time.Hour), Comment: "Entregar por la tarde",
		Lines: []handysim.Line{
			{Product: "M-001", Quantity: money.NewFromInt(1), DiscountPercent: money.NewFromInt(3), Comments: "sin armar"},
			{Product: "M-002", Quantity: money.NewFromInt(1), DiscountPercent: money.NewFromInt(3)},
			{Product: "M-002", Quantity: money.MustParse("1.5"), OptionalTax: true},
		}})
	require.NoError(t, err)
	edited, err := s.EditSale(plain.ID, handysim.Sale{Customer: "C-1", Seller: a.seller.ID, At: at.Add(2 * time.Minute),
		Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(2)}}})
	require.NoError(t, err)
	_, err = s.EditSale(edited.ID, handysim.Sale{Customer: "C-1", Seller: a.seller.ID, At: at.Add(3 * time.Minute),
		Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(3)}}})
	require.NoError(t, err)
	require.NoError(t, s.DeleteSale(mixed.ID, at.Add(4*time.Minute), admin.ID))

	// Everything the sync reads and writes.
	yes := true
	for _, f := range []handy.UserFilter{{}, {Enabled: &yes, Role: 4}} {
		_, err := handy.All(a.c.Users(ctx, f))
		require.NoError(t, err)
	}
	_, err = handy.All(a.c.Products(ctx, nil))
	require.NoError(t, err)
	_, err = handy.All(a.c.Products(ctx, &handy.Window{Field: handy.LastUpdated, Start: at, End: at.Add(time.Hour)}))
	require.NoError(t, err)
	customers, err := handy.All(a.c.Customers(ctx))
	require.NoError(t, err)
	require.Len(t, customers, 102)
	_, err = a.c.Customer(ctx, "C-1")
	require.NoError(t, err)
	created, err := handy.All(a.c.CreatedSales(ctx, at.Add(-time.Hour), at.Add(time.Hour), nil))
	require.NoError(t, err)
	require.Len(t, created, 1)
	require.NotNil(t, created[0].EditedFrom)
	require.NotNil(t, created[0].EditedFrom.EditedFrom, "an edit of an edit")
	deleted, err := handy.All(a.c.DeletedSales(ctx, at.Add(-time.Hour), at.Add(time.Hour), nil))
	require.NoError(t, err)
	require.Len(t, deleted, 3)
	got, err := a.c.SalesOrder(ctx, mixed.ID)
	require.NoError(t, err)
	require.Equal(t, "sin armar", val(t, got.Items[0].Comments))
	require.NoError(t, a.c.SetExternalID(ctx, mixed.ID, 1042))
	_, err = a.c.SalesOrderByExternalID(ctx, 1042)
	require.NoError(t, err)

	// And the errors it meets: 404, 401, 422, 429.
	_, err = a.c.SalesOrder(ctx, 999999)
	require.ErrorIs(t, err, handy.ErrNotFound)
	_, err = a.c.Customer(ctx, "nadie")
	require.ErrorIs(t, err, handy.ErrNotFound)
	revoked, err := handy.New(handy.Options{BaseURL: a.srv.URL + "/api/v2", Token: "revoked"})
	require.NoError(t, err)
	_, err = handy.All(revoked.Users(ctx, handy.UserFilter{}))
	require.ErrorIs(t, err, handy.ErrCredentialsRejected)
	for _, query := range []string{"filterWithDate=dateCreated&start=2026-03-02", "filterWithDate=lastUpdated&start=02/03/2026%2000:00:00"} {
		req, err := http.NewRequest(http.MethodGet, a.srv.URL+"/api/v2/salesOrder?"+query, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	}
	a.sim.RateLimit, a.sim.RateWindow = 1, time.Second
	for range 2 {
		_, err = handy.All(a.c.Users(ctx, handy.UserFilter{}))
		require.NoError(t, err, "a 429, then the next window")
	}

	seen := map[string]bool{}
	statuses := map[int]bool{}
	for i, rec := range a.sim.Requests() {
		what := fmt.Sprintf("request %d, %s %s?%s → %d", i, rec.Method, rec.Path, rec.Query, rec.Status)
		statuses[rec.Status] = true
		want := "errors"
		if rec.Status == http.StatusOK {
			want = responseShape[rec.Route]
			seen[rec.Route] = true
		}
		require.NotEmpty(t, want, what)
		require.Empty(t, checkJSON(rec.Response, want), "%s: the answer departs from the reference", what)
		require.True(t, strings.HasPrefix(rec.ContentType, "application/json"), what)
		if rec.Status != http.StatusUnprocessableEntity { // the client sends no request Handy refuses; the test did
			checkRequest(t, what, rec.Route, rec.Query, rec.Header, rec.Body)
		}
		if rec.Status == http.StatusOK {
			checkArithmetic(t, what, rec.Response)
		}
	}
	require.Equal(t, slices.Sorted(maps.Keys(responseShape)), slices.Sorted(maps.Keys(seen)),
		"every route the simulator serves was exercised and checked")
	for _, st := range []int{200, 401, 404, 422, 429} {
		require.True(t, statuses[st], "status %d was exercised", st)
	}
}

// checkRequest checks one request the client sent: a Bearer token, only documented query
// parameters with documented values, and for the PUT exactly {"externalId": <integer>}.
func checkRequest(t *testing.T, what, route, rawQuery string, h http.Header, body []byte) {
	t.Helper()
	require.True(t, strings.HasPrefix(h.Get("Authorization"), "Bearer "), "%s: no Bearer token", what)
	q, err := url.ParseQuery(rawQuery)
	require.NoError(t, err, what)
	for name, vals := range q {
		require.Contains(t, queryParams[route], name, "%s: query parameter %q is not documented for %s", what, name, route)
		v := vals[0]
		switch name {
		case "start", "end":
			require.Regexp(t, requestDate, v, "%s: %s is not dd/MM/yyyy HH:mm:ss", what, name)
		case "filterWithDate":
			require.Contains(t, dateFields[route], v, "%s: filterWithDate", what)
		case "deleted", "enabled", "billable", "billed", "exported":
			require.Contains(t, []string{"true", "false"}, v, what)
		case "order":
			require.Contains(t, []string{"asc", "desc"}, v, what)
		case "page", "max", "role":
			n, err := strconv.Atoi(v)
			require.NoError(t, err, what)
			require.Positive(t, n, what)
			if name == "max" {
				require.LessOrEqual(t, n, 100, what)
			}
		}
	}
	if route == "PUT /salesOrder/{id}" {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		require.NoError(t, dec.Decode(&m), what)
		require.Len(t, m, 1, "%s: the body is exactly {externalId}", what)
		n, ok := m["externalId"].(json.Number)
		require.True(t, ok, "%s: externalId is a number", what)
		_, err := n.Int64()
		require.NoError(t, err, "%s: externalId is an integer (the SDK's Integer)", what)
	} else {
		require.Empty(t, body, what)
	}
}

// checkArithmetic checks the money in an answer against §3.2 and §9.1: product.price = basePrice
// × (1 + (tax + taxOptional)%); a line's originalPrice = basePrice × (1 + (tax + the line's
// taxOptional)%); price = originalPrice × (1 − discountPercentage%); total = price × quantity;
// totalSales = Σ totals; totalBeforeTax = Σ total ÷ (1 + the line's rate); totalTax = the
// difference. Every amount to the cent.
func checkArithmetic(t *testing.T, what string, raw []byte) {
	t.Helper()
	var doc struct {
		Products    []refProduct `json:"products"`
		SalesOrders []refOrder   `json:"salesOrders"`
		refOrder
	}
	require.NoError(t, json.Unmarshal(raw, &doc), what)
	for _, p := range doc.Products {
		checkProductPrice(t, what, p)
	}
	orders := doc.SalesOrders
	if doc.ID != 0 && doc.Items != nil {
		orders = append(orders, doc.refOrder)
	}
	for _, o := range orders {
		for o := &o; o != nil; o = o.EditedFrom {
			checkOrderArithmetic(t, what, o)
		}
	}
}

// refTax, refProduct, refItem and refOrder read the money of an answer: the test's own reading,
// named from the reference, so that it does not lean on the client's types either.
type refTax struct {
	Amount money.Decimal `json:"amount"`
}

type refProduct struct {
	Code        string        `json:"code"`
	Price       money.Decimal `json:"price"`
	BasePrice   money.Decimal `json:"basePrice"`
	Tax         *refTax       `json:"tax"`
	TaxOptional *refTax       `json:"taxOptional"`
}

type refItem struct {
	Product            refProduct    `json:"product"`
	Quantity           money.Decimal `json:"quantity"`
	Price              money.Decimal `json:"price"`
	Total              money.Decimal `json:"total"`
	OriginalPrice      money.Decimal `json:"originalPrice"`
	DiscountPercentage money.Decimal `json:"discountPercentage"`
	Tax                *refTax       `json:"tax"`
	TaxOptional        *refTax       `json:"taxOptional"`
	IsReward           bool          `json:"isReward"`
}

type refOrder struct {
	ID             int64         `json:"id"`
	Items          []refItem     `json:"items"`
	TotalSales     money.Decimal `json:"totalSales"`
	TotalTax       money.Decimal `json:"totalTax"`
	TotalBeforeTax money.Decimal `json:"totalBeforeTax"`
	EditedFrom     *refOrder     `json:"editedFrom"`
}

var pct100, unity = money.NewFromInt(100), money.NewFromInt(1)

func rate(taxes ...*refTax) money.Decimal {
	r := money.Zero
	for _, t := range taxes {
		if t != nil {
			r = r.Add(t.Amount)
		}
	}
	return unity.Add(r.Div(pct100))
}

func checkProductPrice(t *testing.T, what string, p refProduct) {
	t.Helper()
	require.Equal(t, p.BasePrice.Mul(rate(p.Tax, p.TaxOptional)).Cents().String(), p.Price.String(),
		"%s: product %s: price = basePrice × (1 + (tax + taxOptional)%%)", what, p.Code)
}

func checkOrderArithmetic(t *testing.T, what string, o *refOrder) {
	t.Helper()
	sales, before := money.Zero, money.Zero
	for i, it := range o.Items {
		where := fmt.Sprintf("%s: order %d line %d", what, o.ID, i)
		checkProductPrice(t, where, it.Product)
		lineRate := rate(it.Tax, it.TaxOptional)
		require.Equal(t, it.Product.BasePrice.Mul(lineRate).Cents().String(), it.OriginalPrice.String(), "%s: originalPrice = basePrice × (1 + the line's taxes)", where)
		if !it.IsReward { // a gift line is free; the reference gives no arithmetic for it
			require.Equal(t, it.OriginalPrice.Mul(unity.Sub(it.DiscountPercentage.Div(pct100))).Cents().String(), it.Price.String(), "%s: price = originalPrice less the discount", where)
		}
		require.Equal(t, it.Price.Mul(it.Quantity).Cents().String(), it.Total.String(), "%s: total = price × quantity", where)
		sales = sales.Add(it.Total)
		before = before.Add(it.Total.Div(lineRate))
	}
	require.Equal(t, sales.String(), o.TotalSales.String(), "%s: order %d: totalSales = Σ totals", what, o.ID)
	require.Equal(t, before.Cents().String(), o.TotalBeforeTax.String(), "%s: order %d: totalBeforeTax", what, o.ID)
	require.Equal(t, o.TotalSales.Sub(o.TotalBeforeTax).String(), o.TotalTax.String(), "%s: order %d: totalTax", what, o.ID)
}

// TestContractCheckerCatchesMistakes shows that the check above has teeth: an answer with a
// misspelt, missing, mistyped or unknown property fails it.
func TestContractCheckerCatchesMistakes(t *testing.T) {
	t.Parallel()
	good := fixture(t, "sales-orders.json")
	require.Empty(t, checkJSON(good, "salesOrdersPage"))
	for name, edit := range map[string]func(string) string{
		"a misspelt total": func(s string) string { return strings.Replace(s, `"totalSales"`, `"totalSale"`, 1) },
		"a total as text": func(s string) string {
			return strings.Replace(s, `"totalSales": 36807.3`, `"totalSales": "36807.3"`, 1)
		},
		"a date without its zone":    func(s string) string { return strings.Replace(s, `"2023-02-26T07:17:40Z"`, `"2023-02-26T07:17:40"`, 1) },
		"a line's tax misspelt":      func(s string) string { return strings.Replace(s, `"taxOptional"`, `"optionalTax"`, 1) },
		"a seller's extras misspelt": func(s string) string { return strings.Replace(s, `"extras"`, `"extra"`, 1) },
		"a property of no shape": func(s string) string {
			return strings.Replace(s, `"salesType": "Preventa",`, `"salesType": "Preventa", "status": "OPEN",`, 1)
		},
		"an unknown status":         func(s string) string { return strings.Replace(s, `"PENDING_DELIVERY"`, `"PENDING"`, 1) },
		"a customer code as number": func(s string) string { return strings.Replace(s, `"code": "9112069"`, `"code": 9112069`, 1) },
		"a fractional id":           func(s string) string { return strings.Replace(s, `"id": 29079294`, `"id": 29079294.5`, 1) },
		"a relative page link": func(s string) string {
			return strings.Replace(s, `"https://hub.handy.la/api/v2/salesOrder`, `"/api/v2/salesOrder`, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			changed := edit(string(good))
			require.NotEqual(t, string(good), changed, "the edit applies")
			require.NotEmpty(t, checkJSON([]byte(changed), "salesOrdersPage"))
		})
	}
	// The error example of the reference (§1.5) is a valid error answer.
	require.Empty(t, checkJSON([]byte(`{"errors":[{"object":"com.locus.product.Product","field":"price","rejected-value":"$500.00","message":"La propiedad Precio debe ser un número válido"}]}`), "errors"))
}

// goShapes says which shape of the contract each of the client's types reads.
var goShapes = map[reflect.Type][]string{
	reflect.TypeFor[handy.Pagination]():     {"pagination"},
	reflect.TypeFor[handy.User]():           {"user", "userRef"},
	reflect.TypeFor[handy.Role]():           {"role"},
	reflect.TypeFor[handy.Tax]():            {"tax"},
	reflect.TypeFor[handy.Ref]():            {"ref", "zone"},
	reflect.TypeFor[handy.Unit]():           {"unit"},
	reflect.TypeFor[handy.PriceListRef]():   {"priceList"},
	reflect.TypeFor[handy.Product]():        {"product"},
	reflect.TypeFor[handy.Customer]():       {"customer"},
	reflect.TypeFor[handy.SalesOrderItem](): {"item"},
	reflect.TypeFor[handy.SalesOrder]():     {"salesOrder"},
}

// TestContractClientNamesAreDocumented checks every JSON name of the client's types against the
// contract, and that the Go type fits the documented JSON type: a renamed tag fails here with the
// field named.
func TestContractClientNamesAreDocumented(t *testing.T) {
	t.Parallel()
	for typ, shapes := range goShapes {
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			require.NotEmpty(t, name, "%s.%s has no JSON name", typ, f.Name)
			var pr prop
			var found bool
			for _, sh := range shapes {
				if pr, found = handyShapes[sh][name]; found {
					break
				}
			}
			require.True(t, found, "%s.%s reads %q, which the reference does not name for %v", typ, f.Name, name, shapes)
			requireFits(t, fmt.Sprintf("%s.%s (%q)", typ, f.Name, name), f.Type, pr)
		}
	}
}

func requireFits(t *testing.T, what string, typ reflect.Type, pr prop) {
	t.Helper()
	if typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	switch {
	case typ == reflect.TypeFor[handy.Time]():
		require.Equal(t, kDate, pr.kind, "%s is read as a date", what)
	case typ == reflect.TypeFor[money.Decimal]():
		require.Contains(t, []jsonKind{kNumber, kInt}, pr.kind, "%s is read as a number", what)
	case typ.Kind() == reflect.String:
		require.Contains(t, []jsonKind{kString, kURL, kDate}, pr.kind, "%s is read as text", what)
	case typ.Kind() == reflect.Bool:
		require.Equal(t, kBool, pr.kind, "%s is read as true or false", what)
	case typ.Kind() == reflect.Int64 || typ.Kind() == reflect.Int:
		require.Equal(t, kInt, pr.kind, "%s is read as an integer", what)
	case typ.Kind() == reflect.Slice:
		require.Equal(t, kArray, pr.kind, "%s is read as a list", what)
		require.Contains(t, goShapes[typ.Elem()], pr.shape, "%s: elements are read as %s", what, pr.shape)
	case typ.Kind() == reflect.Struct:
		require.Equal(t, kObject, pr.kind, "%s is read as an object", what)
		require.Contains(t, goShapes[typ], pr.shape, "%s is read as a %s", what, pr.shape)
	default:
		t.Fatalf("%s: no rule for %s", what, typ)
	}
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "reference", name))
	require.NoError(t, err)
	return b
}

// fixtureServer answers the client from the fixtures written from the reference's examples.
func fixtureServer(t *testing.T) *handy.Client {
	t.Helper()
	orders := fixture(t, "sales-orders.json")
	var page struct {
		SalesOrders []json.RawMessage `json:"salesOrders"`
	}
	require.NoError(t, json.Unmarshal(orders, &page))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		switch r.URL.Path {
		case "/api/v2/user":
			_, _ = w.Write(fixture(t, "users.json"))
		case "/api/v2/product":
			_, _ = w.Write(fixture(t, "products.json"))
		case "/api/v2/customer":
			_, _ = w.Write(fixture(t, "customers.json"))
		case "/api/v2/salesOrder":
			_, _ = w.Write(orders)
		case "/api/v2/salesOrder/29079294":
			_, _ = w.Write(page.SalesOrders[0])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := handy.New(handy.Options{BaseURL: srv.URL + "/api/v2", Token: token})
	require.NoError(t, err)
	return c
}

// TestContractClientReadsReferenceExample reads, with the real client, fixtures written from the
// reference's examples (the SDK's sales-order example of §3.2 with its worked totals, the users,
// products and customers of §3.3–§3.5), and checks the values it gets. The fixtures pass the
// contract themselves, and every JSON field of the client's types receives a value from them, so
// a client field whose name drifts from the reference is caught here.
func TestContractClientReadsReferenceExample(t *testing.T) {
	t.Parallel()
	for file, sh := range map[string]string{
		"sales-orders.json": "salesOrdersPage", "users.json": "usersPage",
		"products.json": "productsPage", "customers.json": "customersPage",
	} {
		require.Empty(t, checkJSON(fixture(t, file), sh), "%s follows the reference", file)
		checkArithmetic(t, file, fixture(t, file))
	}
	c := fixtureServer(t)
	ctx := context.Background()

	orders, err := handy.All(c.SalesOrders(ctx, handy.SalesQuery{}))
	require.NoError(t, err)
	require.Len(t, orders, 1)
	o := orders[0]
	byID, err := c.SalesOrder(ctx, 29079294)
	require.NoError(t, err)
	require.Equal(t, o, byID)

	require.Equal(t, int64(29079294), o.ID)
	require.Equal(t, time.Date(2023, 2, 26, 7, 17, 40, 0, time.UTC), o.DateCreated.Time)
	require.Equal(t, time.Date(2023, 2, 26, 7, 17, 38, 0, time.UTC), o.MobileDateCreated.Time)
	require.Equal(t, "36807.3", o.TotalSales.String(), "1833.3 + 33756 + 1218")
	require.Equal(t, "31847.5", o.TotalBeforeTax.String(), "1833.3/1.08 + 33756/1.16 + 1218/1.16")
	require.Equal(t, "4959.8", o.TotalTax.String())
	require.Equal(t, "9112069", o.Customer.Code)
	require.Equal(t, "Monterrey", o.Customer.City)
	require.Equal(t, "Zona Centro", val(t, o.Customer.Zone).Description)
	require.Equal(t, "LP-GENERAL", val(t, o.PriceList).Code)
	require.Equal(t, int64(74120), o.CreatedBy.ID)
	require.Equal(t, "The one and only", o.CreatedBy.Extras)
	require.Equal(t, "Entregar por la tarde", val(t, o.SellerComment))
	require.Equal(t, "Preventa", o.SalesType)
	require.Equal(t, "MOBILE", o.CreationSource)
	require.Equal(t, "PENDING_DELIVERY", o.OperativeStatus)
	require.True(t, o.Billable)
	require.False(t, o.Deleted)
	require.Nil(t, o.ExternalID)

	require.Len(t, o.Items, 3)
	m1, m2 := o.Items[0], o.Items[1]
	require.Equal(t, "M-001", m1.Product.Code)
	require.Equal(t, "1750", m1.Product.BasePrice.String())
	require.Equal(t, "1890", m1.Product.Price.String(), "1750 × 1.08")
	require.Equal(t, "1890", m1.OriginalPrice.String())
	require.Equal(t, "1833.3", m1.Price.String(), "1890 × 0.97")
	require.Equal(t, "1833.3", m1.Total.String())
	require.Equal(t, "1", m1.Quantity.String())
	require.Equal(t, "3", m1.DiscountPercentage.String())
	require.Equal(t, "Descuento de 3.0% para cliente", val(t, m1.Discount))
	require.Equal(t, "IVA", val(t, m1.Tax).Name)
	require.Equal(t, "8", val(t, m1.Tax).Amount.String())
	require.Equal(t, "PZA", val(t, m1.Product.Unit).Code)
	require.Equal(t, "Pieza", val(t, val(t, m1.Product.Unit).Description))
	// M-002: the product has the optional tax (price 37200 = 30000 × 1.24), this line does not
	// carry it: its originalPrice 34800 = 30000 × 1.16 and its taxOptional is null.
	require.Equal(t, "37200", m2.Product.Price.String())
	require.Equal(t, "8", val(t, m2.Product.TaxOptional).Amount.String())
	require.Nil(t, m2.TaxOptional)
	require.Equal(t, "34800", m2.OriginalPrice.String())
	require.Equal(t, "33756", m2.Price.String())

	prev := val(t, o.EditedFrom)
	require.Len(t, prev.Items, 3)
	require.Equal(t, int64(29079292), prev.ID)
	require.True(t, prev.Deleted)
	require.True(t, prev.IsEdited)
	require.Equal(t, o.DateCreated.Time, prev.DateDeleted.Time, "deleted when the new version arrived")
	require.Equal(t, int64(74120), val(t, prev.DeletedBy).ID)
	e1 := prev.Items[0]
	require.Equal(t, "970", e1.OriginalPrice.String())
	require.Equal(t, "940.9", e1.Price.String(), "970 × 0.97")
	require.Equal(t, "2822.7", e1.Total.String(), "3 × 940.9")
	require.True(t, prev.Items[1].IsReward)
	// A line that carries the product's optional tax: its prices include IEPS, and
	// totalBeforeTax takes both taxes out of it: 2822.7/1.16 + 37200/1.24 = 32433.36.
	ieps := prev.Items[2]
	require.Equal(t, "IEPS", val(t, ieps.TaxOptional).Name)
	require.Equal(t, "37200", ieps.OriginalPrice.String())
	require.Equal(t, "40022.7", prev.TotalSales.String())
	require.Equal(t, "32433.36", prev.TotalBeforeTax.String())
	require.Equal(t, "7589.34", prev.TotalTax.String())
	require.Equal(t, "REWARD", prev.Items[1].PriceType)
	oldest := val(t, prev.EditedFrom)
	require.Len(t, oldest.Items, 2)
	require.Equal(t, int64(29079290), oldest.ID)
	require.Equal(t, int64(5001), val(t, oldest.ExternalID))
	require.Equal(t, "30", val(t, oldest.Items[0].Discount), "a discount as a number in text")
	require.True(t, oldest.Items[1].IsReturn)
	require.Nil(t, oldest.EditedFrom)

	users, err := handy.All(c.Users(ctx, handy.UserFilter{}))
	require.NoError(t, err)
	require.Len(t, users, 2)
	require.Equal(t, "The one and only", users[0].Extras)
	require.Equal(t, int64(4), val(t, users[0].Role).ID)
	require.Equal(t, "ROLE_SALES", val(t, users[0].Role).Authority)
	require.Equal(t, "vendedor@example.com", users[0].Email)
	require.Empty(t, users[1].Extras)

	products, err := handy.All(c.Products(ctx, nil))
	require.NoError(t, err)
	require.Len(t, products, 1)
	mesa := products[0]
	require.Equal(t, "37200", mesa.Price.String())
	require.Equal(t, "30000", mesa.BasePrice.String())
	require.Equal(t, "IEPS", val(t, mesa.TaxOptional).Name)
	require.Equal(t, "7501234567890", mesa.Barcode)
	require.Equal(t, "Comedor", val(t, mesa.Category).Description)
	require.Equal(t, time.Date(2023, 2, 1, 16, 0, 0, 0, time.UTC), mesa.LastUpdated.Time)

	customers, err := handy.All(c.Customers(ctx))
	require.NoError(t, err)
	require.Len(t, customers, 2)
	require.Equal(t, "Abarrotes Lupita SA de CV", val(t, customers[0].BusinessName))
	require.Equal(t, "64000", customers[0].PostalCode)
	require.Equal(t, "A4", customers[1].Code)
	require.Equal(t, "8112345678", customers[1].PhoneNumber)
	require.Equal(t, "pepe@example.com", customers[1].Email)
	require.Nil(t, customers[1].BusinessName)

	// The paging object of the guide's example (§1.3), and a later page of it.
	var first, third handy.Pagination
	require.NoError(t, json.Unmarshal([]byte(`{"totalCount": 50, "totalPages": 5,
		"currentPage": "https://app.handy.la/api/v2/user?page=1", "nextPage": "https://app.handy.la/api/v2/user?page=2",
		"prevPage": null, "firstPage": "https://app.handy.la/api/v2/user?page=1", "lastPage": "https://app.handy.la/api/v2/user?page=5"}`), &first))
	require.Equal(t, int64(50), first.TotalCount)
	require.Equal(t, int64(5), first.TotalPages)
	require.Equal(t, "https://app.handy.la/api/v2/user?page=2", val(t, first.NextPage))
	require.Nil(t, first.PrevPage)
	require.Equal(t, "https://app.handy.la/api/v2/user?page=5", val(t, first.LastPage))
	require.NoError(t, json.Unmarshal([]byte(`{"totalCount": 50, "totalPages": 5,
		"currentPage": "https://app.handy.la/api/v2/user?page=3", "nextPage": "https://app.handy.la/api/v2/user?page=4",
		"prevPage": "https://app.handy.la/api/v2/user?page=2", "firstPage": "https://app.handy.la/api/v2/user?page=1", "lastPage": "https://app.handy.la/api/v2/user?page=5"}`), &third))
	require.Equal(t, "https://app.handy.la/api/v2/user?page=3", val(t, third.CurrentPage))
	require.Equal(t, "https://app.handy.la/api/v2/user?page=2", val(t, third.PrevPage))
	require.Equal(t, "https://app.handy.la/api/v2/user?page=1", val(t, third.FirstPage))

	// Every JSON field of the client's types got a value from the fixtures.
	filled := map[string]bool{}
	for _, v := range []any{orders, users, products, customers, first, third} {
		markFilled(reflect.ValueOf(v), filled)
	}
	for typ := range goShapes {
		for f := range typ.Fields() {
			key := typ.Name() + "." + f.Name
			if key == "Customer.RFC" {
				continue // the reference does not name the RFC's field; the simulator's "rfc" is checked by the sync's tests
			}
			require.True(t, filled[key], "%s (json %q) received nothing from the reference's example", key, f.Tag.Get("json"))
		}
	}
}

// val returns *p, failing the test (rather than panicking and hiding the other tests) when p is nil.
func val[T any](t *testing.T, p *T) T {
	t.Helper()
	require.NotNil(t, p, "a %T the reference's example has", p)
	return *p
}

// markFilled records, for every field of the client's types within v, whether some value of it is
// set. A decoded number (even 0) counts as set: it was read.
func markFilled(v reflect.Value, filled map[string]bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			markFilled(v.Elem(), filled)
		}
	case reflect.Slice:
		for i := range v.Len() {
			markFilled(v.Index(i), filled)
		}
	case reflect.Struct:
		if _, ours := goShapes[v.Type()]; !ours {
			return
		}
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.IsZero() {
				filled[v.Type().Name()+"."+v.Type().Field(i).Name] = true
			}
			markFilled(f, filled)
		}
	}
}
