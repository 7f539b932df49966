package mapping

import (
	"context"
	"fmt"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/handy"
)

// SaleOutput is what a mapping version makes of one Handy sale, field by field: the order with its
// lines (without the ids a sync looks up in Bind), the seller's warehouse name, and the client the
// sale's customer would become.
type SaleOutput struct {
	Order     bind.NewOrder
	Warehouse string
	Client    bind.NewClient
	// Fields explains every output field; Field is its path: order.Comments,
	// order.Products[0].Price, warehouse.Name, client.RFC.
	Fields []Explained
}

// MapSale maps a sale as a sales sync would, within the limits of one check (a second and a few
// megabytes), explaining each field. It reads and writes nothing else.
func (m *Mapping) MapSale(ctx context.Context, sale handy.SalesOrder, conn Connection) (SaleOutput, error) {
	budget, cancel := newMeter(ctx)
	defer cancel()
	var out SaleOutput
	prefixed := func(prefix string, fields []Explained) {
		for _, f := range fields {
			f.Field = prefix + f.Field
			out.Fields = append(out.Fields, f)
		}
	}
	oe := &OrderEnv{Sale: SaleOf(sale), Seller: SellerOf(sale.CreatedBy), Customer: CustomerOf(sale.Customer), Connection: conn}
	var fields []Explained
	if err := m.apply(budget, "order", oe, &out.Order, &fields); err != nil {
		return out, err
	}
	prefixed("order.", fields)
	le := &LineEnv{Sale: oe.Sale, Connection: conn}
	for i, it := range sale.Items {
		le.Line = LineOf(i, it)
		var line bind.NewOrderProduct
		fields = fields[:0]
		if err := m.apply(budget, "order_line", le, &line, &fields); err != nil {
			return out, err
		}
		prefixed(fmt.Sprintf("order.Products[%d].", i), fields)
		out.Order.Products = append(out.Order.Products, line)
	}
	var wh WarehouseChoice
	fields = fields[:0]
	if err := m.apply(budget, "warehouse", &WarehouseEnv{Seller: oe.Seller, Connection: conn}, &wh, &fields); err != nil {
		return out, err
	}
	out.Warehouse = wh.Name
	prefixed("warehouse.", fields)
	fields = fields[:0]
	if err := m.apply(budget, "client", &ClientEnv{Customer: oe.Customer, Connection: conn}, &out.Client, &fields); err != nil {
		return out, err
	}
	prefixed("client.", fields)
	return out, nil
}
