package mapping

import (
	"fmt"
	"reflect"
	"time"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/money"
)

// Kind is the declared type of a target field.
type Kind string

// The field kinds.
const (
	KindString  Kind = "string"
	KindDecimal Kind = "decimal"
	KindInt     Kind = "int"
	KindTime    Kind = "time"
	KindBool    Kind = "bool"
)

var kindTypes = map[Kind]reflect.Type{
	KindString:  reflect.TypeFor[string](),
	KindDecimal: reflect.TypeFor[money.Decimal](),
	KindInt:     reflect.TypeFor[int](),
	KindTime:    reflect.TypeFor[time.Time](),
	KindBool:    reflect.TypeFor[bool](),
}

// Field is one output field of a target.
type Field struct {
	Name     string // the Bind JSON name, dotted for nested objects ("Address.City")
	Kind     Kind
	Required bool
	Doc      string
	// to sets the field of an output: a func(out any, v T) for the kind's Go type T.
	to any
}

// set sets the field of out to v, a value of the field kind's type.
func (f *Field) set(out any, v any) {
	switch to := f.to.(type) {
	case func(any, string):
		to(out, v.(string))
	case func(any, money.Decimal):
		to(out, v.(money.Decimal))
	case func(any, bool):
		to(out, v.(bool))
	case func(any, int):
		to(out, v.(int))
	case func(any, time.Time):
		to(out, v.(time.Time))
	default:
		panic(fmt.Sprintf("field %s has no setter", f.Name))
	}
}

// Target is one thing a mapping produces.
type Target struct {
	Name   string
	Doc    string
	Env    reflect.Type // the rules' environment
	Fields []Field
	// newOut returns a pointer to a fresh output value.
	newOut func() any
	// envRoots names the environment's top-level variables, for suggestions and docs.
	envRoots []string
}

// Field returns the named field of the target.
func (t *Target) Field(name string) (Field, bool) {
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

func address(c *bind.NewClient) *bind.NewAddress {
	if c.Address == nil {
		c.Address = &bind.NewAddress{}
	}
	return c.Address
}

// Targets lists what a mapping file can write, in file order. Ids that come from lookups in Bind
// (the client of an order, its address, the product of a line) are filled by the sync engine, not
// by rules.
var Targets = []*Target{
	{
		Name: "product", Doc: "Bind product (NewProduct) from a Handy product.",
		Env: reflect.TypeFor[ProductEnv](), envRoots: []string{"product", "connection"},
		newOut: func() any { return &ProductOut{} },
		Fields: []Field{
			{Name: "Title", Kind: KindString, Required: true, Doc: "product name in Bind", to: func(o any, v string) { o.(*ProductOut).Title = v }},
			{Name: "Code", Kind: KindString, Required: true, Doc: "product code, Bind's business key", to: func(o any, v string) { o.(*ProductOut).Code = v }},
			{Name: "Price", Kind: KindDecimal, Required: true, Doc: "price given on creation", to: func(o any, v money.Decimal) { o.(*ProductOut).Price = v }},
			{Name: "Cost", Kind: KindDecimal, Required: true, Doc: "cost", to: func(o any, v money.Decimal) { o.(*ProductOut).Cost = v }},
			{Name: "CurrencyId", Kind: KindString, Required: true, Doc: "Bind currency id (note the lowercase d)", to: func(o any, v string) { o.(*ProductOut).CurrencyID = v }},
			{Name: "Description", Kind: KindString, Doc: "long description", to: func(o any, v string) { o.(*ProductOut).Description = v }},
			{Name: "SKU", Kind: KindString, Doc: "SKU", to: func(o any, v string) { o.(*ProductOut).SKU = v }},
			{Name: "ChargeVAT", Kind: KindBool, Doc: "whether the product bears VAT (false for exempt goods); set by an edit after the product is created, and kept equal afterwards", to: func(o any, b bool) { o.(*ProductOut).ChargeVAT = &b }},
			{Name: "IEPSRate", Kind: KindDecimal, Doc: "the product's IEPS as a rate (0.08 for 8%); set like ChargeVAT", to: func(o any, d money.Decimal) { o.(*ProductOut).IEPSRate = &d }},
		},
	},
	{
		Name: "client", Doc: "Bind client (NewClient) from a Handy customer; created only through an order.",
		Env: reflect.TypeFor[ClientEnv](), envRoots: []string{"customer", "connection"},
		newOut: func() any { return &bind.NewClient{} },
		Fields: []Field{
			{Name: "LegalName", Kind: KindString, Required: true, Doc: "Razón Social", to: func(o any, v string) { o.(*bind.NewClient).LegalName = v }},
			{Name: "CommercialName", Kind: KindString, Required: true, Doc: "Nombre Comercial", to: func(o any, v string) { o.(*bind.NewClient).CommercialName = v }},
			{Name: "RFC", Kind: KindString, Required: true, Doc: "tax id", to: func(o any, v string) { o.(*bind.NewClient).RFC = v }},
			{Name: "CreditDays", Kind: KindInt, Required: true, Doc: "0 = cash", to: func(o any, v int) { o.(*bind.NewClient).CreditDays = int32(v) }},
			{Name: "CreditAmount", Kind: KindDecimal, Required: true, Doc: "credit limit", to: func(o any, v money.Decimal) { o.(*bind.NewClient).CreditAmount = v }},
			{Name: "PriceListID", Kind: KindString, Required: true, Doc: "Bind price list id", to: func(o any, v string) { o.(*bind.NewClient).PriceListID = v }},
			{Name: "AccountingNumber", Kind: KindString, Required: true, Doc: "ledger account number", to: func(o any, v string) { o.(*bind.NewClient).AccountingNumber = v }},
			{Name: "Email", Kind: KindString, Doc: "e-mail", to: func(o any, v string) { o.(*bind.NewClient).Email = v }},
			{Name: "Telephone", Kind: KindString, Doc: "telephone", to: func(o any, v string) { o.(*bind.NewClient).Telephone = v }},
			{Name: "Comment", Kind: KindString, Doc: "comment", to: func(o any, v string) { o.(*bind.NewClient).Comment = v }},
			{Name: "Address.StreetName", Kind: KindString, Doc: "street", to: func(o any, v string) { address(o.(*bind.NewClient)).StreetName = v }},
			{Name: "Address.ExteriorNumber", Kind: KindString, Doc: "exterior number", to: func(o any, v string) { address(o.(*bind.NewClient)).ExteriorNumber = v }},
			{Name: "Address.Colonia", Kind: KindString, Doc: "colonia", to: func(o any, v string) { address(o.(*bind.NewClient)).Colonia = v }},
			{Name: "Address.ZipCode", Kind: KindString, Doc: "postal code", to: func(o any, v string) { address(o.(*bind.NewClient)).ZipCode = v }},
			{Name: "Address.City", Kind: KindString, Doc: "city", to: func(o any, v string) { address(o.(*bind.NewClient)).City = v }},
			{Name: "Address.State", Kind: KindString, Doc: "state", to: func(o any, v string) { address(o.(*bind.NewClient)).State = v }},
		},
	},
	{
		Name: "order", Doc: "Bind order header (NewOrder) from a Handy sale and its seller.",
		Env: reflect.TypeFor[OrderEnv](), envRoots: []string{"sale", "seller", "customer", "connection"},
		newOut: func() any { return &bind.NewOrder{} },
		Fields: []Field{
			{Name: "PriceListID", Kind: KindString, Required: true, Doc: "Bind price list id", to: func(o any, v string) { o.(*bind.NewOrder).PriceListID = v }},
			{Name: "CurrencyID", Kind: KindString, Required: true, Doc: "Bind currency id", to: func(o any, v string) { o.(*bind.NewOrder).CurrencyID = v }},
			{Name: "OrderDate", Kind: KindTime, Required: true, Doc: "order date, sent as wall-clock time in the connection's zone", to: func(o any, v time.Time) { o.(*bind.NewOrder).OrderDate = bind.Time{Time: v} }},
			{Name: "PurchaseOrder", Kind: KindString, Required: true, Doc: "the Handy sale id: how a lost create is found again", to: func(o any, v string) { o.(*bind.NewOrder).PurchaseOrder = v }},
			{Name: "VATRate", Kind: KindDecimal, Required: true, Doc: "VAT rate applied on top of the net line prices (0.16)", to: func(o any, v money.Decimal) { o.(*bind.NewOrder).VATRate = v }},
			{Name: "Comments", Kind: KindString, Doc: "comments", to: func(o any, v string) { o.(*bind.NewOrder).Comments = v }},
		},
	},
	{
		Name: "order_line", Doc: "Bind order line (NewOrderProduct) from a Handy sale line.",
		Env: reflect.TypeFor[LineEnv](), envRoots: []string{"line", "sale", "connection"},
		newOut: func() any { return &bind.NewOrderProduct{} },
		Fields: []Field{
			{Name: "Price", Kind: KindDecimal, Required: true, Doc: "unit price net of VAT", to: func(o any, v money.Decimal) { o.(*bind.NewOrderProduct).Price = v }},
			{Name: "Qty", Kind: KindDecimal, Required: true, Doc: "quantity", to: func(o any, v money.Decimal) { o.(*bind.NewOrderProduct).Qty = v }},
			{Name: "Comments", Kind: KindString, Doc: "line comment", to: func(o any, v string) { o.(*bind.NewOrderProduct).Comments = v }},
			{Name: "Unit", Kind: KindString, Doc: "unit", to: func(o any, v string) { o.(*bind.NewOrderProduct).Unit = v }},
			{Name: "VATExempt", Kind: KindBool, Doc: "the line bears no VAT (exempt goods, 0%)", to: func(o any, v bool) { o.(*bind.NewOrderProduct).VATExempt = v }},
			{Name: "IEPS", Kind: KindDecimal, Doc: "the line's IEPS as a rate (0.08 for 8%); Bind charges VAT on the net amount plus the IEPS", to: func(o any, v money.Decimal) { o.(*bind.NewOrderProduct).IEPS = v }},
		},
	},
	{
		Name: "warehouse", Doc: "The name of the Bind warehouse a seller's orders go to.",
		Env: reflect.TypeFor[WarehouseEnv](), envRoots: []string{"seller", "connection"},
		newOut: func() any { return &WarehouseChoice{} },
		Fields: []Field{
			{Name: "Name", Kind: KindString, Required: true, Doc: "warehouse name, resolved to an id by the sync", to: func(o any, v string) { o.(*WarehouseChoice).Name = v }},
		},
	},
}

// ProductOut is the output of the product target: the new product, and the taxes that Bind's
// NewProduct cannot carry, set by an edit once the product exists (nil when no rule sets them).
type ProductOut struct {
	bind.NewProduct
	ChargeVAT *bool          `json:"ChargeVAT,omitempty"`
	IEPSRate  *money.Decimal `json:"IEPSRate,omitempty"`
}

// WarehouseChoice is the output of the warehouse target.
type WarehouseChoice struct {
	Name string `json:"Name"`
}

// TargetByName finds a target.
func TargetByName(name string) (*Target, bool) {
	for _, t := range Targets {
		if t.Name == name {
			return t, true
		}
	}
	return nil, false
}
