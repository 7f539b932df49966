package handysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/money"
)

// What the simulator writes to and reads from HTTP. These types are written from the field tables
// of Handy's API reference, independently of the client's types in package handy: if the two
// shared their JSON names, a misspelt name in the client would be misspelt here too and every test
// would stay green. The in-memory model (handy.SalesOrder and friends) is converted to these types
// at the edge, and nothing of the client's JSON encoding (handy.Time, money.Decimal) is used.
//
// Values are written as Handy's Java backend writes them: ids as integers, amounts and quantities
// as doubles (1890.0), dates as ISO-8601 UTC with "Z", unset values as null.

// double is an amount, rate or quantity (a Java Double on Handy's side), written with at least
// one decimal, as Handy's examples show them (970.0, 3.0).
type double string

func dbl(d money.Decimal) double {
	s := d.Decimal.String() // exact decimal text, never through float64
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return double(s)
}

// MarshalJSON writes the number as it is.
func (d double) MarshalJSON() ([]byte, error) {
	if d == "" {
		return []byte("0.0"), nil
	}
	return []byte(d), nil
}

// isoLayout is how Handy writes response dates: "2023-02-26T07:14:32Z".
const isoLayout = "2006-01-02T15:04:05Z"

// date is a response date; the zero time is null.
type date time.Time

// MarshalJSON writes the date in UTC, to the second, or null.
func (d date) MarshalJSON() ([]byte, error) {
	t := time.Time(d)
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(isoLayout) + `"`), nil
}

// text is a string that Handy sends as null when it is empty.
func text(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// wirePagination is the paging object of every list; the links are full URLs or null.
type wirePagination struct {
	TotalCount  int64   `json:"totalCount"`
	TotalPages  int64   `json:"totalPages"`
	CurrentPage *string `json:"currentPage"`
	NextPage    *string `json:"nextPage"`
	PrevPage    *string `json:"prevPage"`
	FirstPage   *string `json:"firstPage"`
	LastPage    *string `json:"lastPage"`
}

// wireUserRef is a user embedded in another record (createdBy, deletedBy).
type wireUserRef struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Username string  `json:"username"`
	Enabled  bool    `json:"enabled"`
	Extras   *string `json:"extras"`
}

// wireUser is an item of GET /user.
type wireUser struct {
	ID          int64    `json:"id"`
	Name        string   `json:"name"`
	Username    string   `json:"username"`
	Email       *string  `json:"email"`
	Enabled     bool     `json:"enabled"`
	Role        wireRole `json:"role"`
	LastUpdated date     `json:"lastUpdated"`
	PictureURL  string   `json:"pictureUrl"`
	Extras      *string  `json:"extras"`
}

type wireRole struct {
	ID        int64  `json:"id"`
	Authority string `json:"authority"`
}

// wireTax is a tax; amount is a percentage (16.0 for 16%).
type wireTax struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Amount  double `json:"amount"`
	Enabled bool   `json:"enabled"`
}

// wireRef is the {id, description, enabled} of families, categories and order types.
type wireRef struct {
	ID          int64  `json:"id"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

type wireZone struct {
	ID          int64  `json:"id"`
	Description string `json:"description"`
	Color       string `json:"color"`
	Enabled     bool   `json:"enabled"`
}

type wireUnit struct {
	ID          int64   `json:"id"`
	Code        string  `json:"code"`
	Description *string `json:"description"`
	Enabled     bool    `json:"enabled"`
}

type wirePriceList struct {
	ID      int64  `json:"id"`
	Code    string `json:"code"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// wireProduct is a product, in GET /product and in every sale line. price includes the taxes
// (tax and taxOptional); basePrice does not.
type wireProduct struct {
	ID                    int64        `json:"id"`
	Code                  string       `json:"code"`
	Description           string       `json:"description"`
	Details               *string      `json:"details"`
	Price                 double       `json:"price"`
	BasePrice             double       `json:"basePrice"`
	MinimumPrice          double       `json:"minimumPrice"`
	Tax                   *wireTax     `json:"tax"`
	TaxOptional           *wireTax     `json:"taxOptional"`
	Quantity              double       `json:"quantity"`
	Barcode               *string      `json:"barcode"`
	Unit                  *wireUnit    `json:"unit"`
	Family                *wireRef     `json:"family"`
	Category              *wireRef     `json:"category"`
	Enabled               bool         `json:"enabled"`
	ApplyDiscounts        bool         `json:"applyDiscounts"`
	HasBeenSold           bool         `json:"hasBeenSold"`
	SATProductCode        *string      `json:"satProductCode"`
	SATUnitCode           *string      `json:"satUnitCode"`
	PictureURL            *string      `json:"pictureUrl"`
	ExternalID            *string      `json:"externalId"`
	BoostSales            bool         `json:"boostSales"`
	BoostSalesDescription *string      `json:"boostSalesDescription"`
	CreatedBy             *wireUserRef `json:"createdBy"`
	LastUpdatedBy         *wireUserRef `json:"lastUpdatedBy"`
	DateCreated           date         `json:"dateCreated"`
	LastUpdated           date         `json:"lastUpdated"`
}

// wireCustomer is a customer, in GET /customer, GET /customer/{code} and every sale. Handy's
// reference does not name the JSON field of the RFC; "rfc" is this project's assumption, written
// only when the customer has one. phoneNumber and email are GET /customer fields named by a
// third party, written only when set.
type wireCustomer struct {
	ID                  int64          `json:"id"`
	Code                string         `json:"code"`
	Description         string         `json:"description"`
	BusinessName        *string        `json:"businessName"`
	RFC                 string         `json:"rfc,omitempty"`
	Address             *string        `json:"address"`
	Neighborhood        *string        `json:"neighborhood"`
	City                *string        `json:"city"`
	PostalCode          *string        `json:"postalCode"`
	PhoneNumber         string         `json:"phoneNumber,omitempty"`
	Email               string         `json:"email,omitempty"`
	Comments            *string        `json:"comments"`
	Zone                *wireZone      `json:"zone"`
	PriceList           *wirePriceList `json:"priceList"`
	Balance             double         `json:"balance"`
	Credit              double         `json:"credit"`
	Enabled             bool           `json:"enabled"`
	FiscalRegime        *string        `json:"fiscalRegime"`
	CFDIUse             *string        `json:"cfdiUse"`
	PaymentForms        *string        `json:"paymentForms"`
	PaymentMethods      *string        `json:"paymentMethods"`
	FacturamaCustomerID *string        `json:"facturamaCustomerId"`
}

// wireItem is a sale line. price is the tax-inclusive unit price after the line's discount;
// taxOptional is set only when the line carries the product's optional tax.
type wireItem struct {
	ID                 int64       `json:"id"`
	Product            wireProduct `json:"product"`
	Quantity           double      `json:"quantity"`
	Price              double      `json:"price"`
	Total              double      `json:"total"`
	OriginalPrice      double      `json:"originalPrice"`
	Discount           *string     `json:"discount"`
	DiscountPercentage double      `json:"discountPercentage"`
	Tax                *wireTax    `json:"tax"`
	TaxOptional        *wireTax    `json:"taxOptional"`
	PriceType          string      `json:"priceType"`
	IsReward           bool        `json:"isReward"`
	IsReturn           bool        `json:"isReturn"`
	PromoIDs           *string     `json:"promoIds"`
	PromoNames         *string     `json:"promoNames"`
	Delivered          double      `json:"delivered"`
	Comments           *string     `json:"comments"`
}

// wireSalesOrder is a sale (pedido), with the fields of Handy's data dictionary.
type wireSalesOrder struct {
	ID                       int64           `json:"id"`
	MobileDateCreated        date            `json:"mobileDateCreated"`
	DateCreated              date            `json:"dateCreated"`
	Customer                 wireCustomer    `json:"customer"`
	CreatedBy                wireUserRef     `json:"createdBy"`
	Items                    []wireItem      `json:"items"`
	Type                     *wireRef        `json:"type"`
	PriceList                *wirePriceList  `json:"priceList"`
	TotalSales               double          `json:"totalSales"`
	TotalTax                 double          `json:"totalTax"`
	TotalBeforeTax           double          `json:"totalBeforeTax"`
	ScheduledDateForDelivery date            `json:"scheduledDateForDelivery"`
	SellerComment            *string         `json:"sellerComment"`
	Exported                 bool            `json:"exported"`
	Billable                 bool            `json:"billable"`
	Billed                   bool            `json:"billed"`
	RouteSalePaymentType     *string         `json:"routeSalePaymentType"`
	Latitude                 *double         `json:"latitude"`
	Longitude                *double         `json:"longitude"`
	Accuracy                 *double         `json:"accuracy"`
	TookInPlace              bool            `json:"tookInPlace"`
	PromoIDs                 *string         `json:"promoIds"`
	PromoNames               *string         `json:"promoNames"`
	NetworkSignalQuality     int             `json:"networkSignalQuality"`
	CreationSource           string          `json:"creationSource"`
	Deleted                  bool            `json:"deleted"`
	DateDeleted              date            `json:"dateDeleted"`
	DeletedBy                *wireUserRef    `json:"deletedBy"`
	IsEdited                 bool            `json:"isEdited"`
	EditedFrom               *wireSalesOrder `json:"editedFrom"`
	SalesType                string          `json:"salesType"`
	ExternalID               *int64          `json:"externalId"`
	OperativeStatus          string          `json:"operativeStatus"`
	PrettyOperativeStatus    string          `json:"prettyOperativeStatus"`
}

// readExternalID reads the body of PUT /salesOrder/{id}, which must be exactly
// {"externalId": <integer>}. Property names are matched exactly, as Handy's Java backend matches
// them, not regardless of case as encoding/json would; and the number is parsed from its text, so
// a quoted number, a fraction or an overflow is refused rather than converted or rounded.
func readExternalID(body []byte) (int64, error) {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(body, &in); err != nil {
		return 0, err
	}
	raw, ok := in["externalId"]
	if !ok || len(in) != 1 {
		return 0, errors.New(`the body must be exactly {"externalId": <integer>}`)
	}
	return strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
}

// wireErrorBody is Handy's error answer: {"errors":[{object, field, rejected-value, message}]}.
type wireErrorBody struct {
	Errors []wireError `json:"errors"`
}

type wireError struct {
	Object        string `json:"object"`
	Field         string `json:"field"`
	RejectedValue string `json:"rejected-value"`
	Message       string `json:"message"`
}

// genericPicture is the picture Handy gives users without one.
const genericPicture = "https://cdn.handy.la/web-app/sales/user-profile.png"

// prettyOperativeStatus is the label Handy shows for each operative status.
var prettyOperativeStatus = map[string]string{
	"PENDING_DELIVERY":         "Por entregar",
	"ON_ROUTE":                 "En ruta",
	"PARTIAL_DELIVERED_OPEN":   "Entrega parcial",
	"PARTIAL_DELIVERED_CLOSED": "Cerrado - Entrega parcial",
	"DELIVERED_COMPLETE":       "Entrega completa",
	"RETURNED":                 "Devuelto",
	"CLOSED":                   "Cerrado",
}

// The conversions below read the in-memory model; callers hold s.mu.

func toWireTax(t *handy.Tax) *wireTax {
	if t == nil {
		return nil
	}
	return &wireTax{ID: t.ID, Name: t.Name, Amount: dbl(t.Amount), Enabled: t.Enabled}
}

func toWireRef(r *handy.Ref) *wireRef {
	if r == nil {
		return nil
	}
	return &wireRef{ID: r.ID, Description: r.Description, Enabled: r.Enabled}
}

func toWirePriceList(p *handy.PriceListRef) *wirePriceList {
	if p == nil {
		return nil
	}
	return &wirePriceList{ID: p.ID, Code: p.Code, Name: p.Name, Enabled: p.Enabled}
}

func toWireUserRef(u *handy.User) *wireUserRef {
	if u == nil {
		return nil
	}
	return &wireUserRef{ID: u.ID, Name: u.Name, Username: u.Username, Enabled: u.Enabled, Extras: text(u.Extras)}
}

func (s *Sim) toWireUser(u *handy.User) wireUser {
	w := wireUser{
		ID: u.ID, Name: u.Name, Username: u.Username, Email: text(u.Email), Enabled: u.Enabled,
		LastUpdated: date(s.userStamp[u.ID]), PictureURL: genericPicture, Extras: text(u.Extras),
	}
	if u.Role != nil {
		w.Role = wireRole{ID: u.Role.ID, Authority: u.Role.Authority}
	}
	return w
}

func toWireProduct(p *handy.Product) wireProduct {
	w := wireProduct{
		ID: p.ID, Code: p.Code, Description: p.Description, Details: text(p.Details),
		Price: dbl(p.Price), BasePrice: dbl(p.BasePrice), MinimumPrice: dbl(money.Zero),
		Tax: toWireTax(p.Tax), TaxOptional: toWireTax(p.TaxOptional), Quantity: dbl(money.Zero),
		Barcode: text(p.Barcode), Family: toWireRef(p.Family), Category: toWireRef(p.Category),
		Enabled: p.Enabled, ApplyDiscounts: true,
		DateCreated: date(p.DateCreated.Time), LastUpdated: date(p.LastUpdated.Time),
	}
	if p.Unit != nil {
		w.Unit = &wireUnit{ID: p.Unit.ID, Code: p.Unit.Code, Description: p.Unit.Description, Enabled: p.Unit.Enabled}
	}
	return w
}

// defaultZoneColor is the colour of the zone customers get when a test gives them none.
const defaultZoneColor = "#2E7D32"

func toWireCustomer(c *handy.Customer) wireCustomer {
	w := wireCustomer{
		ID: c.ID, Code: c.Code, Description: c.Description, BusinessName: c.BusinessName, RFC: c.RFC,
		Address: text(c.Address), Neighborhood: text(c.Neighborhood), City: text(c.City),
		PostalCode: text(c.PostalCode), PhoneNumber: c.PhoneNumber, Email: c.Email, Comments: text(c.Comments),
		PriceList: toWirePriceList(c.PriceList), Balance: dbl(money.Zero), Credit: dbl(money.Zero), Enabled: c.Enabled,
	}
	if c.Zone != nil {
		w.Zone = &wireZone{ID: c.Zone.ID, Description: c.Zone.Description, Color: defaultZoneColor, Enabled: c.Zone.Enabled}
	}
	return w
}

func toWireItem(it *handy.SalesOrderItem) wireItem {
	priceType := it.PriceType
	if priceType == "" {
		priceType = "REGULAR"
	}
	return wireItem{
		ID: it.ID, Product: toWireProduct(&it.Product), Quantity: dbl(it.Quantity), Price: dbl(it.Price),
		Total: dbl(it.Total), OriginalPrice: dbl(it.OriginalPrice), Discount: it.Discount,
		DiscountPercentage: dbl(it.DiscountPercentage), Tax: toWireTax(it.Tax), TaxOptional: toWireTax(it.TaxOptional),
		PriceType: priceType, IsReward: it.IsReward, IsReturn: it.IsReturn, Delivered: dbl(money.Zero), Comments: it.Comments,
	}
}

func toWireSalesOrder(o *handy.SalesOrder) wireSalesOrder {
	w := wireSalesOrder{
		ID: o.ID, MobileDateCreated: date(o.MobileDateCreated.Time), DateCreated: date(o.DateCreated.Time),
		Customer: toWireCustomer(&o.Customer), CreatedBy: *toWireUserRef(&o.CreatedBy), Items: []wireItem{},
		Type: toWireRef(o.Type), PriceList: toWirePriceList(o.PriceList),
		TotalSales: dbl(o.TotalSales), TotalTax: dbl(o.TotalTax), TotalBeforeTax: dbl(o.TotalBeforeTax),
		SellerComment: o.SellerComment, Billable: o.Billable, Billed: o.Billed, RouteSalePaymentType: text("Contado"),
		TookInPlace: true, NetworkSignalQuality: 4, CreationSource: o.CreationSource,
		Deleted: o.Deleted, DateDeleted: date(o.DateDeleted.Time), DeletedBy: toWireUserRef(o.DeletedBy),
		IsEdited: o.IsEdited, SalesType: o.SalesType, ExternalID: o.ExternalID,
		OperativeStatus: o.OperativeStatus, PrettyOperativeStatus: prettyOperativeStatus[o.OperativeStatus],
	}
	for i := range o.Items {
		w.Items = append(w.Items, toWireItem(&o.Items[i]))
	}
	if o.EditedFrom != nil {
		prev := toWireSalesOrder(o.EditedFrom)
		w.EditedFrom = &prev
	}
	return w
}
