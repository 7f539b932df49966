package handy

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/handybind/handybind/internal/money"
)

// The types below carry the JSON names of Handy's API v2 for the fields the sync reads. Unknown
// fields are ignored; known fields are strictly typed, and a value of the wrong type is an error
// that names the field (encoding/json fills the path in), never a silent zero.
//
// Prices are tax-inclusive: product.price = basePrice × (1 + tax%), a line's price is the unit
// price after its discount, line total = price × quantity, totalSales = Σ line totals.

// Time is a Handy response date: ISO-8601 in UTC ("2023-02-26T07:14:32Z").
type Time struct{ time.Time }

// UnmarshalJSON reads an ISO-8601 date; null leaves the zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &json.UnmarshalTypeError{Value: "non-string " + string(b), Type: reflect.TypeFor[Time]()}
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: strconv.Quote(s) + " (not ISO-8601)", Type: reflect.TypeFor[Time]()}
	}
	t.Time = v.UTC()
	return nil
}

// MarshalJSON writes the date as ISO-8601 UTC, or null when zero.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format(time.RFC3339) + `"`), nil
}

// Pagination is the paging object of every list; the links are full URLs or null.
type Pagination struct {
	TotalCount  int64   `json:"totalCount"`
	TotalPages  int64   `json:"totalPages"`
	CurrentPage *string `json:"currentPage"`
	NextPage    *string `json:"nextPage"`
	PrevPage    *string `json:"prevPage"`
	FirstPage   *string `json:"firstPage"`
	LastPage    *string `json:"lastPage"`
}

// User is a Handy user; as an order's createdBy it is the seller. Extras is a free text the
// company sets per user; handybind reads a Bind warehouse name from it.
type User struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Username string `json:"username,omitempty"`
	Email    string `json:"email,omitempty"`
	Enabled  bool   `json:"enabled"`
	Extras   string `json:"extras,omitempty"`
	Role     *Role  `json:"role,omitempty"`
}

// Role is a user's role; id 4 is ROLE_SALES (a seller).
type Role struct {
	ID        int64  `json:"id"`
	Authority string `json:"authority"`
}

// Tax is a tax on a product or line; Amount is a percentage (16 for 16%).
type Tax struct {
	ID      int64         `json:"id"`
	Name    string        `json:"name"`
	Amount  money.Decimal `json:"amount"`
	Enabled bool          `json:"enabled"`
}

// Ref is the {id, description, enabled} shape of families, categories, zones and order types.
type Ref struct {
	ID          int64  `json:"id"`
	Description string `json:"description"`
	Enabled     bool   `json:"enabled"`
}

// Unit is a product's unit.
type Unit struct {
	ID          int64   `json:"id"`
	Code        string  `json:"code"`
	Description *string `json:"description"`
	Enabled     bool    `json:"enabled"`
}

// PriceListRef names a Handy price list.
type PriceListRef struct {
	ID      int64  `json:"id"`
	Code    string `json:"code"`
	Name    string `json:"name"`
	Enabled bool   `json:"enabled"`
}

// Product is a Handy product. Price includes taxes; BasePrice does not.
type Product struct {
	ID          int64         `json:"id"`
	Code        string        `json:"code"`
	Description string        `json:"description"`
	Details     string        `json:"details,omitempty"`
	Price       money.Decimal `json:"price"`
	BasePrice   money.Decimal `json:"basePrice"`
	Tax         *Tax          `json:"tax"`
	TaxOptional *Tax          `json:"taxOptional"`
	Barcode     string        `json:"barcode,omitempty"`
	Unit        *Unit         `json:"unit,omitempty"`
	Family      *Ref          `json:"family,omitempty"`
	Category    *Ref          `json:"category,omitempty"`
	Enabled     bool          `json:"enabled"`
	DateCreated Time          `json:"dateCreated"`
	LastUpdated Time          `json:"lastUpdated"`
}

// Customer is a Handy customer. The JSON name of the RFC is not documented; handybind reads
// "rfc" and treats a missing one as empty (the generic RFC applies).
type Customer struct {
	ID           int64         `json:"id"`
	Code         string        `json:"code"`
	Description  string        `json:"description"`
	BusinessName *string       `json:"businessName"`
	RFC          string        `json:"rfc,omitempty"`
	Address      string        `json:"address,omitempty"`
	Neighborhood string        `json:"neighborhood,omitempty"`
	City         string        `json:"city,omitempty"`
	PostalCode   string        `json:"postalCode,omitempty"`
	PhoneNumber  string        `json:"phoneNumber,omitempty"`
	Email        string        `json:"email,omitempty"`
	Comments     string        `json:"comments,omitempty"`
	Zone         *Ref          `json:"zone,omitempty"`
	PriceList    *PriceListRef `json:"priceList,omitempty"`
	Enabled      bool          `json:"enabled"`
}

// SalesOrderItem is one line of a sale. Price is the tax-inclusive unit price after the line's
// discount; Discount is free text (use DiscountPercentage).
type SalesOrderItem struct {
	ID                 int64         `json:"id"`
	Product            Product       `json:"product"`
	Quantity           money.Decimal `json:"quantity"`
	Price              money.Decimal `json:"price"`
	Total              money.Decimal `json:"total"`
	OriginalPrice      money.Decimal `json:"originalPrice"`
	Discount           *string       `json:"discount"`
	DiscountPercentage money.Decimal `json:"discountPercentage"`
	Tax                *Tax          `json:"tax"`
	TaxOptional        *Tax          `json:"taxOptional"`
	PriceType          string        `json:"priceType,omitempty"`
	IsReward           bool          `json:"isReward"`
	IsReturn           bool          `json:"isReturn"`
	Comments           *string       `json:"comments"`
}

// SalesOrder is a Handy sale (pedido). An edit in Handy deletes the order and creates a new one
// whose EditedFrom is the previous version.
type SalesOrder struct {
	ID                int64            `json:"id"`
	MobileDateCreated Time             `json:"mobileDateCreated"`
	DateCreated       Time             `json:"dateCreated"`
	Customer          Customer         `json:"customer"`
	CreatedBy         User             `json:"createdBy"`
	Items             []SalesOrderItem `json:"items"`
	Type              *Ref             `json:"type,omitempty"`
	PriceList         *PriceListRef    `json:"priceList"`
	TotalSales        money.Decimal    `json:"totalSales"`
	TotalTax          money.Decimal    `json:"totalTax"`
	TotalBeforeTax    money.Decimal    `json:"totalBeforeTax"`
	SellerComment     *string          `json:"sellerComment"`
	Billable          bool             `json:"billable"`
	Billed            bool             `json:"billed"`
	CreationSource    string           `json:"creationSource,omitempty"`
	SalesType         string           `json:"salesType,omitempty"`
	Deleted           bool             `json:"deleted"`
	DateDeleted       Time             `json:"dateDeleted"`
	DeletedBy         *User            `json:"deletedBy"`
	IsEdited          bool             `json:"isEdited"`
	EditedFrom        *SalesOrder      `json:"editedFrom"`
	ExternalID        *int64           `json:"externalId"`
	OperativeStatus   string           `json:"operativeStatus,omitempty"`
}

// Check reports the first missing field that the sync cannot do without, by its JSON path.
func (o *SalesOrder) Check() error {
	var errs []error
	if o.ID <= 0 {
		errs = append(errs, errors.New("id: missing"))
	}
	if o.DateCreated.IsZero() {
		errs = append(errs, errors.New("dateCreated: missing"))
	}
	if o.Deleted && o.DateDeleted.IsZero() {
		errs = append(errs, errors.New("dateDeleted: missing on a deleted order"))
	}
	if o.Customer.Code == "" {
		errs = append(errs, errors.New("customer.code: missing"))
	}
	for i, it := range o.Items {
		if it.Product.Code == "" {
			errs = append(errs, fmt.Errorf("items[%d].product.code: missing", i))
		}
	}
	return errors.Join(errs...)
}

// DecodeSalesOrder reads one sales order and checks it.
func DecodeSalesOrder(b []byte) (SalesOrder, error) {
	var o SalesOrder
	if err := json.Unmarshal(b, &o); err != nil {
		return SalesOrder{}, fmt.Errorf("handy: malformed sales order: %w", err)
	}
	if err := o.Check(); err != nil {
		return SalesOrder{}, fmt.Errorf("handy: sales order %d: %w", o.ID, err)
	}
	return o, nil
}
