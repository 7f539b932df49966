package mapping

import (
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
	set      func(out any, v any)
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

func str(v any) string        { return v.(string) }
func dec(v any) money.Decimal { return v.(money.Decimal) }
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
			{Name: "Title", Kind: KindString, Required: true, Doc: "product name in Bind", set: func(o, v any) { o.(*ProductOut).Title = str(v) }},
			{Name: "Code", Kind: KindString, Required: true, Doc: "product code, Bind's business key", set: func(o, v any) { o.(*ProductOut).Code = str(v) }},
			{Name: "Price", Kind: KindDecimal, Required: true, Doc: "price given on creation", set: func(o, v any) { o.(*ProductOut).Price = dec(v) }},
			{Name: "Cost", Kind: KindDecimal, Required: true, Doc: "cost", set: func(o, v any) { o.(*ProductOut).Cost = dec(v) }},
			{Name: "CurrencyId", Kind: KindString, Required: true, Doc: "Bind currency id (note the lowercase d)", set: func(o, v any) { o.(*ProductOut).CurrencyID = str(v) }},
			{Name: "Description", Kind: KindString, Doc: "long description", set: func(o, v any) { o.(*ProductOut).Description = str(v) }},
			{Name: "SKU", Kind: KindString, Doc: "SKU", set: func(o, v any) { o.(*ProductOut).SKU = str(v) }},
			{Name: "ChargeVAT", Kind: KindBool, Doc: "whether the product bears VAT (false for exempt goods); set by an edit after the product is created, and kept equal afterwards", set: func(o, v any) { b := v.(bool); o.(*ProductOut).ChargeVAT = &b }},
			{Name: "IEPSRate", Kind: KindDecimal, Doc: "the product's IEPS as a rate (0.08 for 8%); set like ChargeVAT", set: func(o, v any) { d := dec(v); o.(*ProductOut).IEPSRate = &d }},
		},
	},
	{
		Name: "client", Doc: "Bind client (NewClient) from a Handy customer; created only through an order.",
		Env: reflect.TypeFor[ClientEnv](), envRoots: []string{"customer", "connection"},
		newOut: func() any { return &bind.NewClient{} },
		Fields: []Field{
			{Name: "LegalName", Kind: KindString, Required: true, Doc: "Razón Social", set: func(o, v any) { o.(*bind.NewClient).LegalName = str(v) }},
			{Name: "CommercialName", Kind: KindString, Required: true, Doc: "Nombre Comercial", set: func(o, v any) { o.(*bind.NewClient).CommercialName = str(v) }},
			{Name: "RFC", Kind: KindString, Required: true, Doc: "tax id", set: func(o, v any) { o.(*bind.NewClient).RFC = str(v) }},
			{Name: "CreditDays", Kind: KindInt, Required: true, Doc: "0 = cash", set: func(o, v any) { o.(*bind.NewClient).CreditDays = int32(v.(int)) }},
			{Name: "CreditAmount", Kind: KindDecimal, Required: true, Doc: "credit limit", set: func(o, v any) { o.(*bind.NewClient).CreditAmount = dec(v) }},
			{Name: "PriceListID", Kind: KindString, Required: true, Doc: "Bind price list id", set: func(o, v any) { o.(*bind.NewClient).PriceListID = str(v) }},
			{Name: "AccountingNumber", Kind: KindString, Required: true, Doc: "ledger account number", set: func(o, v any) { o.(*bind.NewClient).AccountingNumber = str(v) }},
			{Name: "Email", Kind: KindString, Doc: "e-mail", set: func(o, v any) { o.(*bind.NewClient).Email = str(v) }},
			{Name: "Telephone", Kind: KindString, Doc: "telephone", set: func(o, v any) { o.(*bind.NewClient).Telephone = str(v) }},
			{Name: "Comment", Kind: KindString, Doc: "comment", set: func(o, v any) { o.(*bind.NewClient).Comment = str(v) }},
			{Name: "Address.StreetName", Kind: KindString, Doc: "street", set: func(o, v any) { address(o.(*bind.NewClient)).StreetName = str(v) }},
			{Name: "Address.ExteriorNumber", Kind: KindString, Doc: "exterior number", set: func(o, v any) { address(o.(*bind.NewClient)).ExteriorNumber = str(v) }},
			{Name: "Address.Colonia", Kind: KindString, Doc: "colonia", set: func(o, v any) { address(o.(*bind.NewClient)).Colonia = str(v) }},
			{Name: "Address.ZipCode", Kind: KindString, Doc: "postal code", set: func(o, v any) { address(o.(*bind.NewClient)).ZipCode = str(v) }},
			{Name: "Address.City", Kind: KindString, Doc: "city", set: func(o, v any) { address(o.(*bind.NewClient)).City = str(v) }},
			{Name: "Address.State", Kind: KindString, Doc: "state", set: func(o, v any) { address(o.(*bind.NewClient)).State = str(v) }},
		},
	},
	{
		Name: "order", Doc: "Bind order header (NewOrder) from a Handy sale and its seller.",
		Env: reflect.TypeFor[OrderEnv](), envRoots: []string{"sale", "seller", "customer", "connection"},
		newOut: func() any { return &bind.NewOrder{} },
		Fields: []Field{
			{Name: "PriceListID", Kind: KindString, Required: true, Doc: "Bind price list id", set: func(o, v any) { o.(*bind.NewOrder).PriceListID = str(v) }},
			{Name: "CurrencyID", Kind: KindString, Required: true, Doc: "Bind currency id", set: func(o, v any) { o.(*bind.NewOrder).CurrencyID = str(v) }},
			{Name: "OrderDate", Kind: KindTime, Required: true, Doc: "order date, sent as wall-clock time in the connection's zone", set: func(o, v any) { o.(*bind.NewOrder).OrderDate = bind.Time{Time: v.(time.Time)} }},
			{Name: "PurchaseOrder", Kind: KindString, Required: true, Doc: "the Handy sale id: how a lost create is found again", set: func(o, v any) { o.(*bind.NewOrder).PurchaseOrder = str(v) }},
			{Name: "VATRate", Kind: KindDecimal, Required: true, Doc: "VAT rate applied on top of the net line prices (0.16)", set: func(o, v any) { o.(*bind.NewOrder).VATRate = dec(v) }},
			{Name: "Comments", Kind: KindString, Doc: "comments", set: func(o, v any) { o.(*bind.NewOrder).Comments = str(v) }},
		},
	},
	{
		Name: "order_line", Doc: "Bind order line (NewOrderProduct) from a Handy sale line.",
		Env: reflect.TypeFor[LineEnv](), envRoots: []string{"line", "sale", "connection"},
		newOut: func() any { return &bind.NewOrderProduct{} },
		Fields: []Field{
			{Name: "Price", Kind: KindDecimal, Required: true, Doc: "unit price net of VAT", set: func(o, v any) { o.(*bind.NewOrderProduct).Price = dec(v) }},
			{Name: "Qty", Kind: KindDecimal, Required: true, Doc: "quantity", set: func(o, v any) { o.(*bind.NewOrderProduct).Qty = dec(v) }},
			{Name: "Comments", Kind: KindString, Doc: "line comment", set: func(o, v any) { o.(*bind.NewOrderProduct).Comments = str(v) }},
			{Name: "Unit", Kind: KindString, Doc: "unit", set: func(o, v any) { o.(*bind.NewOrderProduct).Unit = str(v) }},
			{Name: "VATExempt", Kind: KindBool, Doc: "the line bears no VAT (exempt goods, 0%)", set: func(o, v any) { o.(*bind.NewOrderProduct).VATExempt = v.(bool) }},
			{Name: "IEPS", Kind: KindDecimal, Doc: "the line's IEPS as a rate (0.08 for 8%); Bind charges VAT on the net amount plus the IEPS", set: func(o, v any) { o.(*bind.NewOrderProduct).IEPS = dec(v) }},
		},
	},
	{
		Name: "warehouse", Doc: "The name of the Bind warehouse a seller's orders go to.",
		Env: reflect.TypeFor[WarehouseEnv](), envRoots: []string{"seller", "connection"},
		newOut: func() any { return &WarehouseChoice{} },
		Fields: []Field{
			{Name: "Name", Kind: KindString, Required: true, Doc: "warehouse name, resolved to an id by the sync", set: func(o, v any) { o.(*WarehouseChoice).Name = str(v) }},
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
