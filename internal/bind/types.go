package bind

import (
	"bytes"
	"fmt"
	"time"

	"github.com/handybind/handybind/internal/money"
)

// The types below carry the exact JSON names of Bind's official API definition, quirks included:
// CurrencyId on NewProduct but CurrencyID on EditProduct, Loctaion in ClientDetails, an order's
// Status that is a number in lists and text in details (with StatusCode beside it), Descripcion in
// ProductPriceAndInventory. Amounts, rates and quantities are money.Decimal, never float64.

// Time is a Bind date-time. Bind answers without an offset ("2024-09-25T00:00:00"), in the
// company's local time; it is read and written in that form, as wall-clock time in UTC's clothing.
type Time struct{ time.Time }

const timeLayout = "2006-01-02T15:04:05"

// MarshalJSON writes the wall-clock time without an offset.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.Time.Format(timeLayout) + `"`), nil
}

// UnmarshalJSON accepts Bind's offset-less form, fractional seconds, and RFC 3339.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("date-time %s is not a string", b)
	}
	s := string(b[1 : len(b)-1])
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", timeLayout, "2006-01-02"} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("%q is not a date-time", s)
}

// Order status codes, from StatusCode in order details and Status in order lists.
const (
	OrderActive    = 0 // "Activo"
	OrderFulfilled = 1 // "Surtido"
	OrderCancelled = 2 // "Cancelado"
)

// Page is the OData envelope of every paged list. NextLink is read but never followed: lists are
// paged by $skip (see Query).
type Page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
	Count    int64  `json:"count"`
}

// UserProfile is the API key's own user (GET /api/UserProfile).
type UserProfile struct {
	CompanyID     string   `json:"CompanyID,omitempty"`
	CompanyName   string   `json:"CompanyName,omitempty"`
	CompanyNumber int64    `json:"CompanyNumber,omitempty"`
	Email         string   `json:"Email,omitempty"`
	Name          string   `json:"Name,omitempty"`
	RFC           string   `json:"RFC,omitempty"`
	Roles         []string `json:"Roles,omitempty"`
	UserID        string   `json:"UserID,omitempty"`
	Username      string   `json:"Username,omitempty"`
	Locations     []string `json:"Locations,omitempty"`
}

// PriceList is a Bind price list.
type PriceList struct {
	ID   string `json:"ID"`
	Name string `json:"Name"`
}

// Currency is a Bind currency.
type Currency struct {
	ID           string        `json:"ID"`
	Name         string        `json:"Name,omitempty"`
	Code         string        `json:"Code"`
	ExchangeRate money.Decimal `json:"ExchangeRate,omitzero"`
}

// Warehouse is a Bind warehouse; orders from it go to its location.
type Warehouse struct {
	ID                  string `json:"ID"`
	Name                string `json:"Name"`
	LocationID          string `json:"LocationID,omitempty"`
	AvailableInOtherLoc bool   `json:"AvailableInOtherLoc"`
}

// Location is a Bind branch (sucursal).
type Location struct {
	ID        string `json:"ID"`
	Name      string `json:"Name"`
	Street    string `json:"Street,omitempty"`
	ExtNumber string `json:"ExtNumber,omitempty"`
	IntNumber string `json:"IntNumber,omitempty"`
	ZipCode   string `json:"ZipCode,omitempty"`
	Colonia   string `json:"Colonia,omitempty"`
	City      string `json:"City,omitempty"`
	State     string `json:"State,omitempty"`
}

// Account is a ledger account; Number is what NewClient.AccountingNumber takes.
type Account struct {
	ID          string `json:"ID"`
	GLGroup     string `json:"GLGroup,omitempty"`
	Group       string `json:"Group,omitempty"`
	SubGroup    string `json:"SubGroup,omitempty"`
	GLGroupID   string `json:"GLGroupID,omitempty"`
	GroupID     string `json:"GroupID,omitempty"`
	SubGroupID  string `json:"SubGroupID,omitempty"`
	Number      string `json:"Number"`
	Description string `json:"Description,omitempty"`
}

// User is a Bind user.
type User struct {
	ID          string `json:"ID"`
	FullName    string `json:"FullName,omitempty"`
	JobPosition string `json:"JobPosition,omitempty"`
	LocationID  string `json:"LocationID,omitempty"`
	Email       string `json:"Email,omitempty"`
	UserName    string `json:"UserName,omitempty"`
}

// Product is an item of GET /api/Products. The list carries no price.
type Product struct {
	ID               string        `json:"ID"`
	Code             string        `json:"Code"`
	Title            string        `json:"Title"`
	Description      string        `json:"Description,omitempty"`
	CreationDate     Time          `json:"CreationDate,omitzero"`
	Cost             money.Decimal `json:"Cost"`
	SKU              string        `json:"SKU,omitempty"`
	Comments         string        `json:"Comments,omitempty"`
	CostType         int32         `json:"CostType"`
	CostTypeText     string        `json:"CostTypeText,omitempty"`
	Category1ID      string        `json:"Category1ID,omitempty"`
	Category2ID      string        `json:"Category2ID,omitempty"`
	Category3ID      string        `json:"Category3ID,omitempty"`
	CurrentInventory money.Decimal `json:"CurrentInventory"`
	ChargeVAT        bool          `json:"ChargeVAT"`
	Number           int32         `json:"Number"`
	PricingType      int32         `json:"PricingType"`
	PricingTypeText  string        `json:"PricingTypeText,omitempty"`
	ImageURL         string        `json:"ImageUrl,omitempty"`
	Unit             string        `json:"Unit,omitempty"`
	CurrencyID       string        `json:"CurrencyID,omitempty"`
	CurrencyCode     string        `json:"CurrencyCode,omitempty"`
	PurchaseType     int32         `json:"PurchaseType"`
	PurchaseTypeText string        `json:"PurchaseTypeText,omitempty"`
	IEPSRate         money.Decimal `json:"IEPSRate"`
	Type             int32         `json:"Type"`
	TypeText         string        `json:"TypeText,omitempty"`
	ProductionAuto   bool          `json:"ProductionAuto"`
	Volume           money.Decimal `json:"Volume"`
	Weight           money.Decimal `json:"Weight"`
}

// ProductDetails is GET /api/Products/{id}: the product with its price per list and stock per
// warehouse. Prices are keyed by price-list name.
type ProductDetails struct {
	ID               string               `json:"ID"`
	Code             string               `json:"Code"`
	Title            string               `json:"Title"`
	Description      string               `json:"Description,omitempty"`
	CreationDate     Time                 `json:"CreationDate,omitzero"`
	Cost             money.Decimal        `json:"Cost"`
	SKU              string               `json:"SKU,omitempty"`
	Comments         string               `json:"Comments,omitempty"`
	CostType         int32                `json:"CostType"`
	Category1ID      string               `json:"Category1ID,omitempty"`
	Category2ID      string               `json:"Category2ID,omitempty"`
	Category3ID      string               `json:"Category3ID,omitempty"`
	Category1        string               `json:"Category1,omitempty"`
	Category2        string               `json:"Category2,omitempty"`
	Category3        string               `json:"Category3,omitempty"`
	CurrentInventory money.Decimal        `json:"CurrentInventory"`
	ChargeVAT        bool                 `json:"ChargeVAT"`
	Number           int32                `json:"Number"`
	PricingType      int32                `json:"PricingType"`
	ImageURL         string               `json:"ImageUrl,omitempty"`
	Unit             string               `json:"Unit,omitempty"`
	CurrencyID       string               `json:"CurrencyID,omitempty"`
	CurrencyCode     string               `json:"CurrencyCode,omitempty"`
	PurchaseType     int32                `json:"PurchaseType"`
	IEPSRate         money.Decimal        `json:"IEPSRate"`
	Type             int32                `json:"Type"`
	ProductionAuto   bool                 `json:"ProductionAuto"`
	Volume           money.Decimal        `json:"Volume"`
	Weight           money.Decimal        `json:"Weight"`
	Prices           ProductPrices        `json:"Prices"`
	Inventories      []ProductInventory   `json:"Inventories,omitempty"`
	AlternativeUnits []ProductAlternative `json:"AlternativeUnits,omitempty"`
}

// ProductPrices holds a product's price in each list.
type ProductPrices struct {
	Items []ProductPriceItem `json:"Items,omitempty"`
}

// ProductPriceItem is a product's net price in one list, named by the list's Name.
type ProductPriceItem struct {
	Name         string        `json:"Name"`
	Margin       money.Decimal `json:"Margin"`
	Price        money.Decimal `json:"Price"`
	CurrencyCode string        `json:"CurrencyCode,omitempty"`
	Type         int32         `json:"Type"`
}

// ProductInventory is a product's stock in one warehouse (read only; handybind never writes stock).
type ProductInventory struct {
	WarehouseName string        `json:"WarehouseName"`
	Min           money.Decimal `json:"Min"`
	Max           money.Decimal `json:"Max"`
	Location      string        `json:"Location,omitempty"`
	Visible       bool          `json:"Visible"`
	Inventory     money.Decimal `json:"Inventory"`
}

// ProductAlternative is an alternative unit of a product.
type ProductAlternative struct {
	Name         string        `json:"Name"`
	Multiplier   money.Decimal `json:"Multiplier"`
	SalesUnit    bool          `json:"SalesUnit"`
	PurchaseUnit bool          `json:"PurchaseUnit"`
}

// NewProduct is the body of POST /api/Products. Note CurrencyId and Category*Id (lowercase d).
type NewProduct struct {
	Title        string        `json:"Title"`
	Cost         money.Decimal `json:"Cost"`
	Price        money.Decimal `json:"Price"`
	CurrencyID   string        `json:"CurrencyId"`
	ExchangeRate money.Decimal `json:"ExchangeRate,omitzero"`
	Code         string        `json:"Code"`
	Description  string        `json:"Description,omitempty"`
	SKU          string        `json:"SKU,omitempty"`
	Category1ID  string        `json:"Category1Id,omitempty"`
	Category2ID  string        `json:"Category2Id,omitempty"`
	Category3ID  string        `json:"Category3Id,omitempty"`
	IEPS         money.Decimal `json:"IEPS,omitzero"`
}

// EditProduct is the body of PUT /api/Products. It has no price: Bind's public API cannot change
// a product's price, nor its stock.
type EditProduct struct {
	ID             string        `json:"ID"`
	Code           string        `json:"Code"`
	Title          string        `json:"Title"`
	Cost           money.Decimal `json:"Cost"`
	CurrencyID     string        `json:"CurrencyID"`
	ExchangeRate   money.Decimal `json:"ExchangeRate,omitzero"`
	SKU            string        `json:"SKU,omitempty"`
	Description    string        `json:"Description,omitempty"`
	CostType       *int32        `json:"CostType,omitempty"`
	Category1ID    string        `json:"Category1ID,omitempty"`
	Category2ID    string        `json:"Category2ID,omitempty"`
	Category3ID    string        `json:"Category3ID,omitempty"`
	ChargeVAT      bool          `json:"ChargeVAT"`
	Number         *int32        `json:"Number,omitempty"`
	PricingType    *int32        `json:"PricingType,omitempty"`
	Unit           string        `json:"Unit,omitempty"`
	PurchaseType   *int32        `json:"PurchaseType,omitempty"`
	IEPSRate       money.Decimal `json:"IEPSRate"`
	Type           *int32        `json:"Type,omitempty"`
	ProductionAuto *bool         `json:"ProductionAuto,omitempty"`
}

// ProductPriceAndInventory is an item of the bare array GET /api/ProductsPriceAndInventory
// returns: the whole catalogue for one warehouse and price list, Price net of VAT.
type ProductPriceAndInventory struct {
	ID              string        `json:"ID"`
	Code            string        `json:"Code"`
	Title           string        `json:"Title"`
	Number          money.Decimal `json:"Number"`
	Price           money.Decimal `json:"Price"`
	VAT             money.Decimal `json:"VAT"`
	Cat1ID          string        `json:"Cat1ID,omitempty"`
	Cat2ID          string        `json:"Cat2ID,omitempty"`
	Cat3ID          string        `json:"Cat3ID,omitempty"`
	PricingTypeText string        `json:"PricingTypeText,omitempty"`
	Inventory       money.Decimal `json:"Inventory"`
	IEPSType        int32         `json:"IEPSType"`
	IEPS            money.Decimal `json:"IEPS"`
	SKU             string        `json:"SKU,omitempty"`
	Descripcion     string        `json:"Descripcion,omitempty"`
	VATExempt       bool          `json:"VATExempt"`
	Min             money.Decimal `json:"Min"`
	Max             money.Decimal `json:"Max"`
}

// ClientListItem is an item of GET /api/Clients; ClientName is the commercial name.
type ClientListItem struct {
	ID              string `json:"ID"`
	Number          int64  `json:"Number"`
	ClientName      string `json:"ClientName"`
	LegalName       string `json:"LegalName"`
	RFC             string `json:"RFC"`
	Email           string `json:"Email,omitempty"`
	Phone           string `json:"Phone,omitempty"`
	NextContactDate Time   `json:"NextContactDate,omitzero"`
	LocationID      string `json:"LocationID,omitempty"`
}

// ClientDetails is GET /api/Clients/{id}. Addresses are the ids an order's AddressID takes.
// Loctaion and LoctaionID are misspelled by Bind itself.
type ClientDetails struct {
	ID              string        `json:"ID"`
	RFC             string        `json:"RFC"`
	LegalName       string        `json:"LegalName"`
	CommercialName  string        `json:"CommercialName"`
	CreditDays      int32         `json:"CreditDays"`
	CreditAmount    money.Decimal `json:"CreditAmount"`
	PaymentMethod   string        `json:"PaymentMethod,omitempty"`
	CreationDate    Time          `json:"CreationDate,omitzero"`
	Status          string        `json:"Status,omitempty"`
	SalesContact    string        `json:"SalesContact,omitempty"`
	CreditContact   string        `json:"CreditContact,omitempty"`
	Loctaion        string        `json:"Loctaion,omitempty"`
	LoctaionID      string        `json:"LoctaionID,omitempty"`
	Comments        string        `json:"Comments,omitempty"`
	PriceList       string        `json:"PriceList,omitempty"`
	PriceListID     string        `json:"PriceListID,omitempty"`
	PaymentTermType string        `json:"PaymentTermType,omitempty"`
	Email           string        `json:"Email,omitempty"`
	Telephones      string        `json:"Telephones,omitempty"`
	Number          int64         `json:"Number"`
	AccountNumber   string        `json:"AccountNumber,omitempty"`
	DefaultDiscount money.Decimal `json:"DefaultDiscount"`
	ClientSource    string        `json:"ClientSource,omitempty"`
	Account         string        `json:"Account,omitempty"`
	City            string        `json:"City,omitempty"`
	State           string        `json:"State,omitempty"`
	Addresses       []string      `json:"Addresses,omitempty"`
}

// NewAddress is a client address given on creation.
type NewAddress struct {
	StreetName     string `json:"StreetName,omitempty"`
	InteriorNumber string `json:"InteriorNumber,omitempty"`
	ExteriorNumber string `json:"ExteriorNumber,omitempty"`
	Colonia        string `json:"Colonia,omitempty"`
	Comments       string `json:"Comments,omitempty"`
	ZipCode        string `json:"ZipCode,omitempty"`
	Localidad      string `json:"Localidad,omitempty"`
	City           string `json:"City,omitempty"`
	State          string `json:"State,omitempty"`
}

// NewClient is the body of POST /api/Clients.
type NewClient struct {
	LegalName        string        `json:"LegalName"`
	CommercialName   string        `json:"CommercialName"`
	RFC              string        `json:"RFC"`
	CreditDays       int32         `json:"CreditDays"`
	CreditAmount     money.Decimal `json:"CreditAmount"`
	PriceListID      string        `json:"PriceListID"`
	AccountingNumber string        `json:"AccountingNumber"`
	Address          *NewAddress   `json:"Address,omitempty"`
	Email            string        `json:"Email,omitempty"`
	PaymentMethod    *int32        `json:"PaymentMethod,omitempty"`
	PaymentTerm      *int32        `json:"PaymentTerm,omitempty"`
	LocationID       string        `json:"LocationID,omitempty"`
	SalesEmployeeID  string        `json:"SalesEmployeeID,omitempty"`
	CreditEmployeeID string        `json:"CreditEmployeeID,omitempty"`
	Comment          string        `json:"Comment,omitempty"`
	Telephone        string        `json:"Telephone,omitempty"`
	AccountNumber    string        `json:"AccountNumber,omitempty"`
	DefaultDiscount  money.Decimal `json:"DefaultDiscount,omitzero"`
	Source           string        `json:"Source,omitempty"`
	RegimenFiscal    string        `json:"RegimenFiscal,omitempty"`
}

// OrderListItem is an item of GET /api/Orders. Status is a number here (see OrderActive…).
type OrderListItem struct {
	orderHeader
	Serie  string `json:"Serie,omitempty"`
	Status int32  `json:"Status"`
}

// OrderDetails is GET /api/Orders/{id}: Status is text here, its number is StatusCode.
type OrderDetails struct {
	orderHeader
	Address    string                `json:"Address,omitempty"`
	StatusCode int32                 `json:"StatusCode"`
	Status     string                `json:"Status"`
	Products   []OrderDetailsProduct `json:"Products,omitempty"`
	Services   []OrderDetailsService `json:"Services,omitempty"`
}

// orderHeader holds the fields order lists and details share.
type orderHeader struct {
	ID              string        `json:"ID"`
	ClientID        string        `json:"ClientID"`
	ClientName      string        `json:"ClientName,omitempty"`
	PriceListName   string        `json:"PriceListName,omitempty"`
	PriceListID     string        `json:"PriceListID,omitempty"`
	LocationName    string        `json:"LocationName,omitempty"`
	LocationID      string        `json:"LocationID,omitempty"`
	WarehouseID     string        `json:"WarehouseID,omitempty"`
	WarehouseName   string        `json:"WarehouseName,omitempty"`
	OrderDate       Time          `json:"OrderDate,omitzero"`
	Comments        string        `json:"Comments,omitempty"`
	Number          int64         `json:"Number"`
	ClientContact   string        `json:"ClientContact,omitempty"`
	PhoneNumber     string        `json:"PhoneNumber,omitempty"`
	EmployeeName    string        `json:"EmployeeName,omitempty"`
	EmployeeID      string        `json:"EmployeeID,omitempty"`
	PurchaseOrder   string        `json:"PurchaseOrder,omitempty"`
	CurrencyName    string        `json:"CurrencyName,omitempty"`
	CurrencyID      string        `json:"CurrencyID,omitempty"`
	ExchangeRate    money.Decimal `json:"ExchangeRate"`
	RFC             string        `json:"RFC,omitempty"`
	ServiceSubtotal money.Decimal `json:"ServiceSubtotal"`
	ProductSubtotal money.Decimal `json:"ProductSubtotal"`
	Discount        money.Decimal `json:"Discount"`
	VATRate         money.Decimal `json:"VATRate"`
	VAT             money.Decimal `json:"VAT"`
	DiscountType    int32         `json:"DiscountType"`
	IEPS            money.Decimal `json:"IEPS"`
	IEPSRATE        money.Decimal `json:"IEPSRATE"`
	ISRRet          money.Decimal `json:"ISRRet"`
	ISRRetRate      money.Decimal `json:"ISRRetRate"`
	VatRet          money.Decimal `json:"VatRet"`
	VatRetRate      money.Decimal `json:"VatRetRate"`
	Total           money.Decimal `json:"Total"`
}

// OrderDetailsProduct is a product line of an order, net price.
type OrderDetailsProduct struct {
	ProductID      string        `json:"ProductID"`
	Name           string        `json:"Name,omitempty"`
	IndexNumber    int32         `json:"IndexNumber"`
	Code           string        `json:"Code,omitempty"`
	Unit           string        `json:"Unit,omitempty"`
	UnitMultiplier money.Decimal `json:"UnitMultiplier"`
	Qty            money.Decimal `json:"Qty"`
	Price          money.Decimal `json:"Price"`
	IEPSRate       money.Decimal `json:"IEPSRate"`
	Comments       string        `json:"Comments,omitempty"`
	QtyFullFilled  money.Decimal `json:"QtyFullFilled"`
	VATRate        money.Decimal `json:"VATRate"`
}

// OrderDetailsService is a service line of an order.
type OrderDetailsService struct {
	IndexNumber int32         `json:"IndexNumber"`
	ServiceID   string        `json:"ServiceID"`
	Name        string        `json:"Name,omitempty"`
	Code        string        `json:"Code,omitempty"`
	Qty         money.Decimal `json:"Qty"`
	Price       money.Decimal `json:"Price"`
	VATRate     money.Decimal `json:"VATRate"`
}

// NewOrder is the body of POST /api/Orders. Line prices are net of VAT; VATRate applies on top.
type NewOrder struct {
	AddressID      string            `json:"AddressID"`
	ClientID       string            `json:"ClientID"`
	CurrencyID     string            `json:"CurrencyID"`
	LocationID     string            `json:"LocationID"`
	OrderDate      Time              `json:"OrderDate"`
	PriceListID    string            `json:"PriceListID"`
	WarehouseID    string            `json:"WarehouseID"`
	Comments       string            `json:"Comments,omitempty"`
	DiscountAmount money.Decimal     `json:"DiscountAmount,omitzero"`
	DiscountType   *int32            `json:"DiscountType,omitempty"`
	DocNumberID    string            `json:"DocNumberID,omitempty"`
	ExchangeRate   money.Decimal     `json:"ExchangeRate,omitzero"`
	ISRRate        money.Decimal     `json:"ISRRate,omitzero"`
	VATRetRate     money.Decimal     `json:"VATRetRate,omitzero"`
	VATRate        money.Decimal     `json:"VATRate"`
	PurchaseOrder  string            `json:"PurchaseOrder,omitempty"`
	Emails         []string          `json:"Emails,omitempty"`
	Products       []NewOrderProduct `json:"Products,omitempty"`
}

// NewOrderProduct is a product line of a new order. Price is net of every tax. A line with IEPS
// bears it on its net amount (IEPS is a rate, 0.08 for 8%), and VAT at the order's rate on the net
// amount plus the IEPS, unless it is VATExempt.
type NewOrderProduct struct {
	ID          string        `json:"ID"`
	Price       money.Decimal `json:"Price"`
	Qty         money.Decimal `json:"Qty"`
	VAT         money.Decimal `json:"VAT,omitzero"`
	IndexNumber *int32        `json:"IndexNumber,omitempty"`
	IEPS        money.Decimal `json:"IEPS,omitzero"`
	Comments    string        `json:"Comments,omitempty"`
	VATExempt   bool          `json:"VATExempt,omitempty"`
	Unit        string        `json:"Unit,omitempty"`
}
