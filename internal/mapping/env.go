package mapping

import (
	"time"

	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/money"
)

// The environment of the rules: typed views of the Handy records and of the connection, named as
// rules write them (customer.description, line.price). Views, not the API types themselves, so the
// file format stays stable when Handy's JSON changes, and so derived values (a line's total tax
// rate) are there to use. Each view has the same names in JSON, for previews and test cases.

// Connection is what a rule knows of the connection: the names chosen in its settings and the Bind
// ids they resolved to.
type Connection struct {
	PriceList     string `expr:"priceList" json:"priceList"`
	PriceListID   string `expr:"priceListId" json:"priceListId"`
	Currency      string `expr:"currency" json:"currency"`
	CurrencyID    string `expr:"currencyId" json:"currencyId"`
	Warehouse     string `expr:"warehouse" json:"warehouse"`
	WarehouseID   string `expr:"warehouseId" json:"warehouseId"`
	LocationID    string `expr:"locationId" json:"locationId"`
	LedgerAccount string `expr:"ledgerAccount" json:"ledgerAccount"`
	TimeZone      string `expr:"timeZone" json:"timeZone"`
}

// Product is a Handy product.
type Product struct {
	Code        string        `expr:"code" json:"code"`
	Description string        `expr:"description" json:"description"`
	Details     string        `expr:"details" json:"details"`
	Price       money.Decimal `expr:"price" json:"price"`         // tax-inclusive
	BasePrice   money.Decimal `expr:"basePrice" json:"basePrice"` // before tax
	TaxRate     money.Decimal `expr:"taxRate" json:"taxRate"`     // percent: tax + optional tax
	VATRate     money.Decimal `expr:"vatRate" json:"vatRate"`     // percent: the tax (IVA); 0 when exempt
	IEPSRate    money.Decimal `expr:"iepsRate" json:"iepsRate"`   // percent: the optional tax (IEPS)
	Unit        string        `expr:"unit" json:"unit"`
	Barcode     string        `expr:"barcode" json:"barcode"`
	Family      string        `expr:"family" json:"family"`
}

// Customer is a Handy customer.
type Customer struct {
	ID           int64  `expr:"id" json:"id"`
	Code         string `expr:"code" json:"code"`
	Description  string `expr:"description" json:"description"`
	BusinessName string `expr:"businessName" json:"businessName"`
	RFC          string `expr:"rfc" json:"rfc"`
	Address      string `expr:"address" json:"address"`
	Neighborhood string `expr:"neighborhood" json:"neighborhood"`
	City         string `expr:"city" json:"city"`
	PostalCode   string `expr:"postalCode" json:"postalCode"`
	Phone        string `expr:"phone" json:"phone"`
	Email        string `expr:"email" json:"email"`
	Comments     string `expr:"comments" json:"comments"`
	Zone         string `expr:"zone" json:"zone"`
}

// Seller is the Handy user who created a sale.
type Seller struct {
	ID       int64  `expr:"id" json:"id"`
	Name     string `expr:"name" json:"name"`
	Username string `expr:"username" json:"username"`
	Email    string `expr:"email" json:"email"`
	Extras   string `expr:"extras" json:"extras"`
}

// Sale is a Handy sale (header).
type Sale struct {
	ID                int64         `expr:"id" json:"id"`
	DateCreated       time.Time     `expr:"dateCreated" json:"dateCreated"`
	MobileDateCreated time.Time     `expr:"mobileDateCreated" json:"mobileDateCreated"`
	TotalSales        money.Decimal `expr:"totalSales" json:"totalSales"`
	TotalTax          money.Decimal `expr:"totalTax" json:"totalTax"`
	TotalBeforeTax    money.Decimal `expr:"totalBeforeTax" json:"totalBeforeTax"`
	Comment           string        `expr:"comment" json:"comment"`
	PriceList         string        `expr:"priceList" json:"priceList"`
	SalesType         string        `expr:"salesType" json:"salesType"`
	LineCount         int           `expr:"lineCount" json:"lineCount"`
	// VATRate is the VAT rate (percent) of the lines that bear VAT, 0 when every line is exempt.
	// Lines at different rates give the highest; the sync holds such a sale, since a Bind order
	// has one VAT rate.
	VATRate money.Decimal `expr:"vatRate" json:"vatRate"`
}

// Line is one line of a Handy sale.
type Line struct {
	Index              int           `expr:"index" json:"index"`
	ProductCode        string        `expr:"productCode" json:"productCode"`
	ProductDescription string        `expr:"productDescription" json:"productDescription"`
	Quantity           money.Decimal `expr:"quantity" json:"quantity"`
	Price              money.Decimal `expr:"price" json:"price"` // tax-inclusive, after the discount
	OriginalPrice      money.Decimal `expr:"originalPrice" json:"originalPrice"`
	Total              money.Decimal `expr:"total" json:"total"`
	DiscountPercent    money.Decimal `expr:"discountPercent" json:"discountPercent"`
	TaxRate            money.Decimal `expr:"taxRate" json:"taxRate"`   // percent: tax + optional tax of this line
	VATRate            money.Decimal `expr:"vatRate" json:"vatRate"`   // percent: the line's tax (IVA); 0 when exempt
	IEPSRate           money.Decimal `expr:"iepsRate" json:"iepsRate"` // percent: the line's optional tax (IEPS), 0 when it carries none
	Unit               string        `expr:"unit" json:"unit"`
	Comments           string        `expr:"comments" json:"comments"`
	IsReward           bool          `expr:"isReward" json:"isReward"`
	IsReturn           bool          `expr:"isReturn" json:"isReturn"`
}

// The environment of each target.
type (
	// ProductEnv is the environment of product rules.
	ProductEnv struct {
		Product    Product    `expr:"product" json:"product"`
		Connection Connection `expr:"connection" json:"connection"`
	}
	// ClientEnv is the environment of client rules.
	ClientEnv struct {
		Customer   Customer   `expr:"customer" json:"customer"`
		Connection Connection `expr:"connection" json:"connection"`
	}
	// OrderEnv is the environment of order header rules.
	OrderEnv struct {
		Sale       Sale       `expr:"sale" json:"sale"`
		Seller     Seller     `expr:"seller" json:"seller"`
		Customer   Customer   `expr:"customer" json:"customer"`
		Connection Connection `expr:"connection" json:"connection"`
	}
	// LineEnv is the environment of order line rules.
	LineEnv struct {
		Line       Line       `expr:"line" json:"line"`
		Sale       Sale       `expr:"sale" json:"sale"`
		Connection Connection `expr:"connection" json:"connection"`
	}
	// WarehouseEnv is the environment of the seller's warehouse rule.
	WarehouseEnv struct {
		Seller     Seller     `expr:"seller" json:"seller"`
		Connection Connection `expr:"connection" json:"connection"`
	}
)

func taxRate(taxes ...*handy.Tax) money.Decimal {
	r := money.Zero
	for _, t := range taxes {
		if t != nil && t.Enabled {
			r = r.Add(t.Amount)
		}
	}
	return r
}

// ProductOf views a Handy product.
func ProductOf(p handy.Product) Product {
	v := Product{
		Code: p.Code, Description: p.Description, Details: p.Details, Price: p.Price, BasePrice: p.BasePrice,
		TaxRate: taxRate(p.Tax, p.TaxOptional), VATRate: taxRate(p.Tax), IEPSRate: taxRate(p.TaxOptional),
		Barcode: p.Barcode,
	}
	if p.Unit != nil {
		v.Unit = p.Unit.Code
	}
	if p.Family != nil {
		v.Family = p.Family.Description
	}
	return v
}

// CustomerOf views a Handy customer.
func CustomerOf(c handy.Customer) Customer {
	v := Customer{
		ID: c.ID, Code: c.Code, Description: c.Description, RFC: c.RFC, Address: c.Address,
		Neighborhood: c.Neighborhood, City: c.City, PostalCode: c.PostalCode, Phone: c.PhoneNumber,
		Email: c.Email, Comments: c.Comments,
	}
	if c.BusinessName != nil {
		v.BusinessName = *c.BusinessName
	}
	if c.Zone != nil {
		v.Zone = c.Zone.Description
	}
	return v
}

// SellerOf views a Handy user.
func SellerOf(u handy.User) Seller {
	email := u.Email
	if email == "" {
		email = u.Username // Handy's username is the login e-mail
	}
	return Seller{ID: u.ID, Name: u.Name, Username: u.Username, Email: email, Extras: u.Extras}
}

// SaleOf views a Handy sale's header.
func SaleOf(o handy.SalesOrder) Sale {
	v := Sale{
		ID: o.ID, DateCreated: o.DateCreated.Time, MobileDateCreated: o.MobileDateCreated.Time,
		TotalSales: o.TotalSales, TotalTax: o.TotalTax, TotalBeforeTax: o.TotalBeforeTax,
		SalesType: o.SalesType, LineCount: len(o.Items),
	}
	for _, it := range o.Items {
		if r := taxRate(it.Tax); r.GreaterThan(v.VATRate.Decimal) {
			v.VATRate = r
		}
	}
	if o.SellerComment != nil {
		v.Comment = *o.SellerComment
	}
	if o.PriceList != nil {
		v.PriceList = o.PriceList.Code
	}
	return v
}

// LineOf views line i of a Handy sale. A line's tax rate counts its optional tax only when the
// line carries it.
func LineOf(i int, it handy.SalesOrderItem) Line {
	v := Line{
		Index: i, ProductCode: it.Product.Code, ProductDescription: it.Product.Description,
		Quantity: it.Quantity, Price: it.Price, OriginalPrice: it.OriginalPrice, Total: it.Total,
		DiscountPercent: it.DiscountPercentage, TaxRate: taxRate(it.Tax, it.TaxOptional),
		VATRate: taxRate(it.Tax), IEPSRate: taxRate(it.TaxOptional),
		IsReward: it.IsReward, IsReturn: it.IsReturn,
	}
	if it.Product.Unit != nil {
		v.Unit = it.Product.Unit.Code
	}
	if it.Comments != nil {
		v.Comments = *it.Comments
	}
	return v
}
