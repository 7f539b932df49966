package bindsim

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/money"
)

// The simulator's own wire types, written from Bind's official OpenAPI definition: each type is a
// schema of the definition, named after it with a lower-case first letter, and every JSON name is
// spelt as the definition spells it, quirks included (CurrencyId beside CurrencyID, Loctaion,
// Descripcion, IEPSRATE, VatRet). Everything the simulator reads from or writes to HTTP goes
// through these types and never through the client's (package bind), so that a wrong JSON name
// in the client meets a simulator that disagrees with it instead of one that shares the mistake.
// The in-memory model and the Go helpers for tests may use the client's types: only their Go
// fields are used there, never their JSON names.

// number is a "number"/"double" of the definition, held exactly and written as its decimal text.
// It reads JSON numbers only: the definition says number, so a quoted amount is refused even
// though ASP.NET might coerce it.
type number struct{ decimal.Decimal }

func numberOf(d money.Decimal) number { return number{d.Decimal} }

func (n number) money() money.Decimal { return money.Of(n.Decimal) }

func (n number) MarshalJSON() ([]byte, error) { return []byte(n.Decimal.String()), nil }

func (n *number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = number{}
		return nil
	}
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return fmt.Errorf("%s is not a number", b)
	}
	d, err := decimal.NewFromString(string(b))
	// Bounded, so that a short 1e999999999 cannot make rounding build a huge integer.
	if err != nil || d.Exponent() < -18 || d.Exponent() > 18 || len(d.Coefficient().String()) > 40 {
		return fmt.Errorf("%s is not a number Bind can hold", b)
	}
	n.Decimal = d
	return nil
}

// dateTime is a "date-time" of the definition. Bind writes it without an offset, in the company's
// wall-clock time ("2024-09-25T00:00:00"); it reads that form and RFC 3339, keeping the wall clock
// as written.
type dateTime struct{ time.Time }

const dateTimeLayout = "2006-01-02T15:04:05"

func dateTimeOf(t bind.Time) dateTime { return dateTime{t.Time} }

func (d dateTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.Format(dateTimeLayout) + `"`), nil
}

func (d *dateTime) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = dateTime{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s is not a date-time string", b)
	}
	for _, layout := range []string{dateTimeLayout, "2006-01-02T15:04:05.999999999", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			d.Time = t
			return nil
		}
	}
	return fmt.Errorf("%q is not a date-time", s)
}

// pageOf is the envelope of every paged list (PriceListPage, ProductPage, OrderListItemPage…).
// nextLink is left out on the last page (and on every page when the simulator is told to).
type pageOf[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"nextLink,omitempty"`
	Count    int64  `json:"count"`
}

// Responses. Identifiers (uuid) and dates are left out when empty, since "" is not a uuid and the
// zero time is not a date Bind writes; numbers and booleans are always written.

type userProfile struct {
	CompanyID     string   `json:"CompanyID,omitempty"`
	CompanyName   string   `json:"CompanyName,omitempty"`
	CompanyNumber int64    `json:"CompanyNumber"`
	Email         string   `json:"Email,omitempty"`
	Name          string   `json:"Name,omitempty"`
	RFC           string   `json:"RFC,omitempty"`
	Roles         []string `json:"Roles,omitempty"`
	UserID        string   `json:"UserID,omitempty"`
	Username      string   `json:"Username,omitempty"`
	Locations     []string `json:"Locations,omitempty"`
}

func userProfileOf(p bind.UserProfile) userProfile {
	return userProfile{
		CompanyID: p.CompanyID, CompanyName: p.CompanyName, CompanyNumber: p.CompanyNumber, Email: p.Email,
		Name: p.Name, RFC: p.RFC, Roles: p.Roles, UserID: p.UserID, Username: p.Username, Locations: p.Locations,
	}
}

type priceList struct {
	ID   string `json:"ID"`
	Name string `json:"Name"`
}

type currency struct {
	ID           string `json:"ID"`
	Name         string `json:"Name"`
	Code         string `json:"Code"`
	ExchangeRate number `json:"ExchangeRate"`
}

type warehouse struct {
	ID                  string `json:"ID"`
	Name                string `json:"Name"`
	LocationID          string `json:"LocationID,omitempty"`
	AvailableInOtherLoc bool   `json:"AvailableInOtherLoc"`
}

type location struct {
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

type account struct {
	ID          string `json:"ID"`
	GLGroup     string `json:"GLGroup,omitempty"`
	Group       string `json:"Group,omitempty"`
	SubGroup    string `json:"SubGroup,omitempty"`
	GLGroupID   string `json:"GLGroupID,omitempty"`
	GroupID     string `json:"GroupID,omitempty"`
	SubGroupID  string `json:"SubGroupID,omitempty"`
	Number      string `json:"Number"`
	Description string `json:"Description"`
}

type user struct {
	ID          string `json:"ID"`
	FullName    string `json:"FullName"`
	JobPosition string `json:"JobPosition,omitempty"`
	LocationID  string `json:"LocationID,omitempty"`
	Email       string `json:"Email,omitempty"`
	UserName    string `json:"UserName,omitempty"`
}

// product is an item of GET /api/Products: no prices, and text twins of the enums.
type product struct {
	ID               string   `json:"ID"`
	Code             string   `json:"Code"`
	Title            string   `json:"Title"`
	Description      string   `json:"Description,omitempty"`
	CreationDate     dateTime `json:"CreationDate,omitzero"`
	Cost             number   `json:"Cost"`
	SKU              string   `json:"SKU,omitempty"`
	Comments         string   `json:"Comments,omitempty"`
	CostType         int32    `json:"CostType"`
	CostTypeText     string   `json:"CostTypeText,omitempty"`
	Category1ID      string   `json:"Category1ID,omitempty"`
	Category2ID      string   `json:"Category2ID,omitempty"`
	Category3ID      string   `json:"Category3ID,omitempty"`
	CurrentInventory number   `json:"CurrentInventory"`
	ChargeVAT        bool     `json:"ChargeVAT"`
	Number           int32    `json:"Number"`
	PricingType      int32    `json:"PricingType"`
	ImageURL         string   `json:"ImageUrl,omitempty"`
	PricingTypeText  string   `json:"PricingTypeText,omitempty"`
	Unit             string   `json:"Unit,omitempty"`
	CurrencyID       string   `json:"CurrencyID,omitempty"`
	CurrencyCode     string   `json:"CurrencyCode,omitempty"`
	PurchaseType     int32    `json:"PurchaseType"`
	PurchaseTypeText string   `json:"PurchaseTypeText,omitempty"`
	IEPSRate         number   `json:"IEPSRate"`
	Type             int32    `json:"Type"`
	TypeText         string   `json:"TypeText,omitempty"`
	ProductionAuto   bool     `json:"ProductionAuto"`
	Volume           number   `json:"Volume"`
	Weight           number   `json:"Weight"`
}

func productOf(p *productRecord) product {
	return product{
		ID: p.ID, Code: p.Code, Title: p.Title, Description: p.Description, CreationDate: dateTimeOf(p.CreationDate),
		Cost: numberOf(p.Cost), SKU: p.SKU, Comments: p.Comments, CostType: p.CostType, CostTypeText: "Promedio",
		Category1ID: p.Category1ID, Category2ID: p.Category2ID, Category3ID: p.Category3ID,
		CurrentInventory: numberOf(p.CurrentInventory), ChargeVAT: p.ChargeVAT, Number: p.Number,
		PricingType: p.PricingType, ImageURL: p.ImageURL, PricingTypeText: "Listas", Unit: p.Unit,
		CurrencyID: p.CurrencyID, CurrencyCode: p.CurrencyCode, PurchaseType: p.PurchaseType, PurchaseTypeText: "Compra",
		IEPSRate: numberOf(p.IEPSRate), Type: p.Type, TypeText: "Producto", ProductionAuto: p.ProductionAuto,
		Volume: numberOf(p.Volume), Weight: numberOf(p.Weight),
	}
}

// productDetails is GET /api/Products/{id}: prices per list (keyed by the list's name), stock
// per warehouse, alternative units.
type productDetails struct {
	ID               string                    `json:"ID"`
	Code             string                    `json:"Code"`
	Title            string                    `json:"Title"`
	Description      string                    `json:"Description,omitempty"`
	CreationDate     dateTime                  `json:"CreationDate,omitzero"`
	Cost             number                    `json:"Cost"`
	SKU              string                    `json:"SKU,omitempty"`
	Comments         string                    `json:"Comments,omitempty"`
	CostType         int32                     `json:"CostType"`
	Category1ID      string                    `json:"Category1ID,omitempty"`
	Category1        string                    `json:"Category1,omitempty"`
	Category2ID      string                    `json:"Category2ID,omitempty"`
	Category2        string                    `json:"Category2,omitempty"`
	Category3ID      string                    `json:"Category3ID,omitempty"`
	Category3        string                    `json:"Category3,omitempty"`
	CurrentInventory number                    `json:"CurrentInventory"`
	ChargeVAT        bool                      `json:"ChargeVAT"`
	Number           int32                     `json:"Number"`
	PricingType      int32                     `json:"PricingType"`
	Unit             string                    `json:"Unit,omitempty"`
	CurrencyID       string                    `json:"CurrencyID,omitempty"`
	CurrencyCode     string                    `json:"CurrencyCode,omitempty"`
	PurchaseType     int32                     `json:"PurchaseType"`
	IEPSRate         number                    `json:"IEPSRate"`
	Type             int32                     `json:"Type"`
	ProductionAuto   bool                      `json:"ProductionAuto"`
	Volume           number                    `json:"Volume"`
	Weight           number                    `json:"Weight"`
	ImageURL         string                    `json:"ImageUrl,omitempty"`
	Prices           productPrices             `json:"Prices"`
	Inventories      []productInventories      `json:"Inventories,omitempty"`
	AlternativeUnits []productAlternativeUnits `json:"AlternativeUnits,omitempty"`
}

type productPrices struct {
	Items []productPricesItems `json:"Items,omitempty"`
}

type productPricesItems struct {
	Name         string `json:"Name"`
	Margin       number `json:"Margin"`
	Price        number `json:"Price"`
	CurrencyCode string `json:"CurrencyCode,omitempty"`
	Type         int32  `json:"Type"`
}

type productInventories struct {
	WarehouseName string `json:"WarehouseName"`
	Min           number `json:"Min"`
	Max           number `json:"Max"`
	Location      string `json:"Location,omitempty"`
	Visible       bool   `json:"Visible"`
	Inventory     number `json:"Inventory"`
}

type productAlternativeUnits struct {
	Name         string `json:"Name"`
	Multiplier   number `json:"Multiplier"`
	SalesUnit    bool   `json:"SalesUnit"`
	PurchaseUnit bool   `json:"PurchaseUnit"`
}

func productDetailsOf(d bind.ProductDetails) productDetails {
	out := productDetails{
		ID: d.ID, Code: d.Code, Title: d.Title, Description: d.Description, CreationDate: dateTimeOf(d.CreationDate),
		Cost: numberOf(d.Cost), SKU: d.SKU, Comments: d.Comments, CostType: d.CostType,
		Category1ID: d.Category1ID, Category1: d.Category1, Category2ID: d.Category2ID, Category2: d.Category2,
		Category3ID: d.Category3ID, Category3: d.Category3, CurrentInventory: numberOf(d.CurrentInventory),
		ChargeVAT: d.ChargeVAT, Number: d.Number, PricingType: d.PricingType, Unit: d.Unit,
		CurrencyID: d.CurrencyID, CurrencyCode: d.CurrencyCode, PurchaseType: d.PurchaseType,
		IEPSRate: numberOf(d.IEPSRate), Type: d.Type, ProductionAuto: d.ProductionAuto,
		Volume: numberOf(d.Volume), Weight: numberOf(d.Weight), ImageURL: d.ImageURL,
	}
	for _, p := range d.Prices.Items {
		out.Prices.Items = append(out.Prices.Items, productPricesItems{
			Name: p.Name, Margin: numberOf(p.Margin), Price: numberOf(p.Price), CurrencyCode: p.CurrencyCode, Type: p.Type,
		})
	}
	for _, inv := range d.Inventories {
		out.Inventories = append(out.Inventories, productInventories{
			WarehouseName: inv.WarehouseName, Min: numberOf(inv.Min), Max: numberOf(inv.Max), Location: inv.Location,
			Visible: inv.Visible, Inventory: numberOf(inv.Inventory),
		})
	}
	for _, u := range d.AlternativeUnits {
		out.AlternativeUnits = append(out.AlternativeUnits, productAlternativeUnits{
			Name: u.Name, Multiplier: numberOf(u.Multiplier), SalesUnit: u.SalesUnit, PurchaseUnit: u.PurchaseUnit,
		})
	}
	return out
}

// productPriceAndInventory is an item of the bare array GET /api/ProductsPriceAndInventory
// answers; note Descripcion.
type productPriceAndInventory struct {
	ID              string                  `json:"ID"`
	Code            string                  `json:"Code"`
	Title           string                  `json:"Title"`
	Number          number                  `json:"Number"`
	Price           number                  `json:"Price"`
	VAT             number                  `json:"VAT"`
	Cat1ID          string                  `json:"Cat1ID,omitempty"`
	Cat2ID          string                  `json:"Cat2ID,omitempty"`
	Cat3ID          string                  `json:"Cat3ID,omitempty"`
	PricingTypeText string                  `json:"PricingTypeText,omitempty"`
	VolumePrices    []posProductVolumePrice `json:"VolumePrices,omitempty"`
	Inventory       number                  `json:"Inventory"`
	IEPSType        int32                   `json:"IEPSType"`
	IEPS            number                  `json:"IEPS"`
	SKU             string                  `json:"SKU,omitempty"`
	Descripcion     string                  `json:"Descripcion,omitempty"`
	VATExempt       bool                    `json:"VATExempt"`
	Min             number                  `json:"Min"`
	Max             number                  `json:"Max"`
	LotImports      []posProductLotImport   `json:"LotImports,omitempty"`
}

type posProductVolumePrice struct {
	Min   number `json:"Min"`
	Max   number `json:"Max"`
	Value number `json:"Value"`
	Type  int32  `json:"Type"`
}

type posProductLotImport struct {
	Description string `json:"Description,omitempty"`
	Qty         number `json:"Qty"`
	ID          string `json:"ID"`
}

// clientListItem is an item of GET /api/Clients; ClientName is the commercial name.
type clientListItem struct {
	ID              string   `json:"ID"`
	Number          int64    `json:"Number"`
	ClientName      string   `json:"ClientName"`
	LegalName       string   `json:"LegalName"`
	RFC             string   `json:"RFC"`
	Email           string   `json:"Email,omitempty"`
	Phone           string   `json:"Phone,omitempty"`
	NextContactDate dateTime `json:"NextContactDate,omitzero"`
	LocationID      string   `json:"LocationID,omitempty"`
}

func clientListItemOf(c *clientRecord) clientListItem {
	return clientListItem{
		ID: c.ID, Number: c.Number, ClientName: c.CommercialName, LegalName: c.LegalName, RFC: c.RFC,
		Email: c.Email, Phone: c.Telephones, LocationID: c.LoctaionID,
	}
}

// clientDetails is GET /api/Clients/{id}: Loctaion and LoctaionID as Bind spells them, and
// Addresses, the ids an order's AddressID takes.
type clientDetails struct {
	ID              string   `json:"ID"`
	RFC             string   `json:"RFC"`
	LegalName       string   `json:"LegalName"`
	CommercialName  string   `json:"CommercialName"`
	CreditDays      int32    `json:"CreditDays"`
	CreditAmount    number   `json:"CreditAmount"`
	PaymentMethod   string   `json:"PaymentMethod,omitempty"`
	CreationDate    dateTime `json:"CreationDate,omitzero"`
	Status          string   `json:"Status,omitempty"`
	SalesContact    string   `json:"SalesContact,omitempty"`
	CreditContact   string   `json:"CreditContact,omitempty"`
	Loctaion        string   `json:"Loctaion,omitempty"`
	LoctaionID      string   `json:"LoctaionID,omitempty"`
	Comments        string   `json:"Comments,omitempty"`
	PriceList       string   `json:"PriceList,omitempty"`
	PriceListID     string   `json:"PriceListID,omitempty"`
	PaymentTermType string   `json:"PaymentTermType,omitempty"`
	Email           string   `json:"Email,omitempty"`
	Telephones      string   `json:"Telephones,omitempty"`
	Number          int64    `json:"Number"`
	AccountNumber   string   `json:"AccountNumber,omitempty"`
	DefaultDiscount number   `json:"DefaultDiscount"`
	ClientSource    string   `json:"ClientSource,omitempty"`
	Account         string   `json:"Account,omitempty"`
	City            string   `json:"City,omitempty"`
	State           string   `json:"State,omitempty"`
	Addresses       []string `json:"Addresses,omitempty"`
}

func clientDetailsOf(c *clientRecord) clientDetails {
	return clientDetails{
		ID: c.ID, RFC: c.RFC, LegalName: c.LegalName, CommercialName: c.CommercialName, CreditDays: c.CreditDays,
		CreditAmount: numberOf(c.CreditAmount), PaymentMethod: c.PaymentMethod, CreationDate: dateTimeOf(c.CreationDate),
		Status: c.Status, SalesContact: c.SalesContact, CreditContact: c.CreditContact, Loctaion: c.Loctaion,
		LoctaionID: c.LoctaionID, Comments: c.Comments, PriceList: c.PriceList, PriceListID: c.PriceListID,
		PaymentTermType: c.PaymentTermType, Email: c.Email, Telephones: c.Telephones, Number: c.Number,
		AccountNumber: c.AccountNumber, DefaultDiscount: numberOf(c.DefaultDiscount), ClientSource: c.ClientSource,
		Account: c.Account, City: c.City, State: c.State, Addresses: c.Addresses,
	}
}

// orderFields are the properties OrderListItem and OrderDetails share. Status is not among them:
// a number in the list, text in the details (whose number is StatusCode).
type orderFields struct {
	ID              string   `json:"ID"`
	ClientID        string   `json:"ClientID"`
	ClientName      string   `json:"ClientName,omitempty"`
	PriceListName   string   `json:"PriceListName,omitempty"`
	PriceListID     string   `json:"PriceListID,omitempty"`
	LocationName    string   `json:"LocationName,omitempty"`
	LocationID      string   `json:"LocationID,omitempty"`
	WarehouseID     string   `json:"WarehouseID,omitempty"`
	WarehouseName   string   `json:"WarehouseName,omitempty"`
	OrderDate       dateTime `json:"OrderDate,omitzero"`
	Comments        string   `json:"Comments,omitempty"`
	Number          int64    `json:"Number"`
	ClientContact   string   `json:"ClientContact,omitempty"`
	PhoneNumber     string   `json:"PhoneNumber,omitempty"`
	EmployeeName    string   `json:"EmployeeName,omitempty"`
	EmployeeID      string   `json:"EmployeeID,omitempty"`
	PurchaseOrder   string   `json:"PurchaseOrder,omitempty"`
	CurrencyName    string   `json:"CurrencyName,omitempty"`
	CurrencyID      string   `json:"CurrencyID,omitempty"`
	ExchangeRate    number   `json:"ExchangeRate"`
	RFC             string   `json:"RFC,omitempty"`
	ServiceSubtotal number   `json:"ServiceSubtotal"`
	ProductSubtotal number   `json:"ProductSubtotal"`
	Discount        number   `json:"Discount"`
	VATRate         number   `json:"VATRate"`
	VAT             number   `json:"VAT"`
	DiscountType    int32    `json:"DiscountType"`
	IEPS            number   `json:"IEPS"`
	IEPSRATE        number   `json:"IEPSRATE"`
	ISRRet          number   `json:"ISRRet"`
	ISRRetRate      number   `json:"ISRRetRate"`
	VatRet          number   `json:"VatRet"`
	VatRetRate      number   `json:"VatRetRate"`
	Total           number   `json:"Total"`
}

func orderFieldsOf(o *bind.OrderDetails) orderFields {
	return orderFields{
		ID: o.ID, ClientID: o.ClientID, ClientName: o.ClientName, PriceListName: o.PriceListName,
		PriceListID: o.PriceListID, LocationName: o.LocationName, LocationID: o.LocationID,
		WarehouseID: o.WarehouseID, WarehouseName: o.WarehouseName, OrderDate: dateTimeOf(o.OrderDate),
		Comments: o.Comments, Number: o.Number, ClientContact: o.ClientContact, PhoneNumber: o.PhoneNumber,
		EmployeeName: o.EmployeeName, EmployeeID: o.EmployeeID, PurchaseOrder: o.PurchaseOrder,
		CurrencyName: o.CurrencyName, CurrencyID: o.CurrencyID, ExchangeRate: numberOf(o.ExchangeRate), RFC: o.RFC,
		ServiceSubtotal: numberOf(o.ServiceSubtotal), ProductSubtotal: numberOf(o.ProductSubtotal),
		Discount: numberOf(o.Discount), VATRate: numberOf(o.VATRate), VAT: numberOf(o.VAT), DiscountType: o.DiscountType,
		IEPS: numberOf(o.IEPS), IEPSRATE: numberOf(o.IEPSRATE), ISRRet: numberOf(o.ISRRet),
		ISRRetRate: numberOf(o.ISRRetRate), VatRet: numberOf(o.VatRet), VatRetRate: numberOf(o.VatRetRate),
		Total: numberOf(o.Total),
	}
}

// orderListItem is an item of GET /api/Orders: Status is a number here.
type orderListItem struct {
	orderFields
	Serie  string `json:"Serie,omitempty"`
	Status int32  `json:"Status"`
}

func orderListItemOf(o *bind.OrderDetails) orderListItem {
	return orderListItem{orderFields: orderFieldsOf(o), Status: o.StatusCode}
}

// orderDetails is GET /api/Orders/{id}: Status is text here, and its number is StatusCode.
type orderDetails struct {
	orderFields
	Address    string                `json:"Address,omitempty"`
	StatusCode int32                 `json:"StatusCode"`
	Status     string                `json:"Status"`
	Products   []orderDetailsProduct `json:"Products,omitempty"`
	Services   []orderDetailsService `json:"Services,omitempty"`
}

type orderDetailsProduct struct {
	ProductID      string `json:"ProductID"`
	Name           string `json:"Name,omitempty"`
	IndexNumber    int32  `json:"IndexNumber"`
	Code           string `json:"Code,omitempty"`
	Unit           string `json:"Unit,omitempty"`
	UnitMultiplier number `json:"UnitMultiplier"`
	Qty            number `json:"Qty"`
	Price          number `json:"Price"`
	IEPSRate       number `json:"IEPSRate"`
	Comments       string `json:"Comments,omitempty"`
	QtyFullFilled  number `json:"QtyFullFilled"`
	VATRate        number `json:"VATRate"`
}

type orderDetailsService struct {
	IndexNumber int32  `json:"IndexNumber"`
	ServiceID   string `json:"ServiceID"`
	Name        string `json:"Name,omitempty"`
	Code        string `json:"Code,omitempty"`
	Qty         number `json:"Qty"`
	Price       number `json:"Price"`
	VATRate     number `json:"VATRate"`
}

func orderDetailsOf(o *bind.OrderDetails) orderDetails {
	out := orderDetails{orderFields: orderFieldsOf(o), Address: o.Address, StatusCode: o.StatusCode, Status: o.Status}
	for _, l := range o.Products {
		out.Products = append(out.Products, orderDetailsProduct{
			ProductID: l.ProductID, Name: l.Name, IndexNumber: l.IndexNumber, Code: l.Code, Unit: l.Unit,
			UnitMultiplier: numberOf(l.UnitMultiplier), Qty: numberOf(l.Qty), Price: numberOf(l.Price),
			IEPSRate: numberOf(l.IEPSRate), Comments: l.Comments, QtyFullFilled: numberOf(l.QtyFullFilled),
			VATRate: numberOf(l.VATRate),
		})
	}
	for _, l := range o.Services {
		out.Services = append(out.Services, orderDetailsService{
			IndexNumber: l.IndexNumber, ServiceID: l.ServiceID, Name: l.Name, Code: l.Code,
			Qty: numberOf(l.Qty), Price: numberOf(l.Price), VATRate: numberOf(l.VATRate),
		})
	}
	return out
}

// Requests. A `bind:"required"` property is in the definition's required list; decodeRequest
// refuses a body without it, and any property the schema does not name.

// newProduct is the body of POST /api/Products: CurrencyId and Category1Id with a lower-case d.
type newProduct struct {
	Title        string `json:"Title" bind:"required"`
	Cost         number `json:"Cost" bind:"required"`
	Price        number `json:"Price" bind:"required"`
	CurrencyID   string `json:"CurrencyId" bind:"required"`
	ExchangeRate number `json:"ExchangeRate"`
	Code         string `json:"Code" bind:"required"`
	Description  string `json:"Description"`
	SKU          string `json:"SKU"`
	Category1ID  string `json:"Category1Id"`
	Category2ID  string `json:"Category2Id"`
	Category3ID  string `json:"Category3Id"`
	IEPS         number `json:"IEPS"`
}

// editProduct is the body of PUT /api/Products: CurrencyID with a capital D, and no price.
type editProduct struct {
	ID             string  `json:"ID" bind:"required"`
	Code           string  `json:"Code" bind:"required"`
	Title          string  `json:"Title" bind:"required"`
	Cost           number  `json:"Cost" bind:"required"`
	CurrencyID     string  `json:"CurrencyID" bind:"required"`
	ExchangeRate   number  `json:"ExchangeRate"`
	SKU            string  `json:"SKU"`
	Description    string  `json:"Description"`
	CostType       *int32  `json:"CostType"`
	Category1ID    string  `json:"Category1ID"`
	Category2ID    string  `json:"Category2ID"`
	Category3ID    string  `json:"Category3ID"`
	ChargeVAT      *bool   `json:"ChargeVAT"`
	Number         *int32  `json:"Number"`
	PricingType    *int32  `json:"PricingType"`
	Unit           string  `json:"Unit"`
	PurchaseType   *int32  `json:"PurchaseType"`
	IEPSRate       *number `json:"IEPSRate"`
	Type           *int32  `json:"Type"`
	ProductionAuto *bool   `json:"ProductionAuto"`
}

// newClient is the body of POST /api/Clients.
type newClient struct {
	LegalName        string      `json:"LegalName" bind:"required"`
	CommercialName   string      `json:"CommercialName" bind:"required"`
	RFC              string      `json:"RFC" bind:"required"`
	CreditDays       int32       `json:"CreditDays" bind:"required"`
	CreditAmount     number      `json:"CreditAmount" bind:"required"`
	PriceListID      string      `json:"PriceListID" bind:"required"`
	AccountingNumber string      `json:"AccountingNumber" bind:"required"`
	Address          *newAddress `json:"Address"`
	Email            string      `json:"Email"`
	PaymentMethod    *int32      `json:"PaymentMethod"`
	PaymentTerm      *int32      `json:"PaymentTerm"`
	LocationID       string      `json:"LocationID"`
	SalesEmployeeID  string      `json:"SalesEmployeeID"`
	CreditEmployeeID string      `json:"CreditEmployeeID"`
	Comment          string      `json:"Comment"`
	Telephone        string      `json:"Telephone"`
	AccountNumber    string      `json:"AccountNumber"`
	DefaultDiscount  number      `json:"DefaultDiscount"`
	Source           string      `json:"Source"`
	RegimenFiscal    string      `json:"RegimenFiscal"`
}

type newAddress struct {
	StreetName     string `json:"StreetName"`
	InteriorNumber string `json:"InteriorNumber"`
	ExteriorNumber string `json:"ExteriorNumber"`
	Colonia        string `json:"Colonia"`
	Comments       string `json:"Comments"`
	ZipCode        string `json:"ZipCode"`
	Localidad      string `json:"Localidad"`
	City           string `json:"City"`
	State          string `json:"State"`
}

func (a newAddress) model() bind.NewAddress {
	return bind.NewAddress{
		StreetName: a.StreetName, InteriorNumber: a.InteriorNumber, ExteriorNumber: a.ExteriorNumber,
		Colonia: a.Colonia, Comments: a.Comments, ZipCode: a.ZipCode, Localidad: a.Localidad, City: a.City, State: a.State,
	}
}

// newOrder is the body of POST /api/Orders. Line prices are net of VAT. VATRate is a pointer
// because leaving it out differs from sending 0.
type newOrder struct {
	AddressID      string            `json:"AddressID" bind:"required"`
	ClientID       string            `json:"ClientID" bind:"required"`
	CurrencyID     string            `json:"CurrencyID" bind:"required"`
	LocationID     string            `json:"LocationID" bind:"required"`
	OrderDate      dateTime          `json:"OrderDate" bind:"required"`
	PriceListID    string            `json:"PriceListID" bind:"required"`
	WarehouseID    string            `json:"WarehouseID" bind:"required"`
	Comments       string            `json:"Comments"`
	DiscountAmount number            `json:"DiscountAmount"`
	DiscountType   *int32            `json:"DiscountType"`
	DocNumberID    string            `json:"DocNumberID"`
	ExchangeRate   number            `json:"ExchangeRate"`
	ISRRate        number            `json:"ISRRate"`
	PurchaseOrder  string            `json:"PurchaseOrder"`
	VATRate        *number           `json:"VATRate"`
	VATRetRate     number            `json:"VATRetRate"`
	Emails         []string          `json:"Emails"`
	Products       []newOrderProduct `json:"Products"`
	Services       []newOrderService `json:"Services"`
}

type newOrderProduct struct {
	ID              string   `json:"ID" bind:"required"`
	Price           number   `json:"Price" bind:"required"`
	Qty             number   `json:"Qty" bind:"required"`
	VAT             number   `json:"VAT"`
	IndexNumber     *int32   `json:"IndexNumber"`
	IEPS            number   `json:"IEPS"`
	IEPSType        *int32   `json:"IEPSType"`
	Comments        string   `json:"Comments"`
	VATExempt       bool     `json:"VATExempt"`
	RequireLot      bool     `json:"RequireLot"`
	SelectedImports []string `json:"SelectedImports"`
	OrderItemID     string   `json:"OrderItemID"`
	Unit            string   `json:"Unit"`
}

type newOrderService struct {
	ID              string `json:"ID" bind:"required"`
	Title           string `json:"Title" bind:"required"`
	Price           number `json:"Price" bind:"required"`
	Qty             number `json:"Qty" bind:"required"`
	VAT             number `json:"VAT"`
	Comments        string `json:"Comments"`
	VATExempt       bool   `json:"VATExempt"`
	IndexNumber     *int32 `json:"IndexNumber"`
	VariableConcept bool   `json:"VariableConcept"`
	OrderItemID     string `json:"OrderItemID"`
}
