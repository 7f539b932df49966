package bind

import (
	"context"
	"iter"
	"net/http"
	"net/url"
)

// UserProfile returns the API key's own user; it is the cheapest check that a key works.
func (c *Client) UserProfile(ctx context.Context) (UserProfile, error) {
	var p UserProfile
	err := c.get(ctx, "/api/UserProfile", &p)
	return p, err
}

// PriceLists lists price lists.
func (c *Client) PriceLists(ctx context.Context, q Query) iter.Seq2[PriceList, error] {
	return list[PriceList](c, ctx, "/api/PriceLists", q)
}

// Currencies lists currencies.
func (c *Client) Currencies(ctx context.Context, q Query) iter.Seq2[Currency, error] {
	return list[Currency](c, ctx, "/api/Currencies", q)
}

// Warehouses lists warehouses.
func (c *Client) Warehouses(ctx context.Context, q Query) iter.Seq2[Warehouse, error] {
	return list[Warehouse](c, ctx, "/api/Warehouses", q)
}

// Locations lists locations (sucursales).
func (c *Client) Locations(ctx context.Context, q Query) iter.Seq2[Location, error] {
	return list[Location](c, ctx, "/api/Locations", q)
}

// Accounts lists ledger accounts.
func (c *Client) Accounts(ctx context.Context, q Query) iter.Seq2[Account, error] {
	return list[Account](c, ctx, "/api/Accounts", q)
}

// Users lists users.
func (c *Client) Users(ctx context.Context, q Query) iter.Seq2[User, error] {
	return list[User](c, ctx, "/api/Users", q)
}

// Products lists products (without prices).
func (c *Client) Products(ctx context.Context, q Query) iter.Seq2[Product, error] {
	return list[Product](c, ctx, "/api/Products", q)
}

// Product returns one product with its prices per list.
func (c *Client) Product(ctx context.Context, id string) (ProductDetails, error) {
	var p ProductDetails
	path, err := idPath("/api/Products", id)
	if err == nil {
		err = c.get(ctx, path, &p)
	}
	return p, err
}

// CreateProduct creates a product and returns its id. See ErrOutcomeUnknown.
func (c *Client) CreateProduct(ctx context.Context, p NewProduct) (string, error) {
	return c.create(ctx, "/api/Products", p)
}

// EditProduct replaces a product's editable fields (never its price or stock).
func (c *Client) EditProduct(ctx context.Context, p EditProduct) error {
	return c.send(ctx, http.MethodPut, "/api/Products", p, nil)
}

// ProductsPriceAndInventory returns the whole catalogue with net prices in one price list and
// stock in one warehouse. Bind answers a bare array and does not page it.
func (c *Client) ProductsPriceAndInventory(ctx context.Context, warehouseID, priceListID string) ([]ProductPriceAndInventory, error) {
	for _, id := range []string{warehouseID, priceListID} {
		if _, err := idPath("", id); err != nil {
			return nil, err
		}
	}
	q := url.Values{"warehouseId": {warehouseID}, "priceListId": {priceListID}}
	var out []ProductPriceAndInventory
	err := c.get(ctx, "/api/ProductsPriceAndInventory?"+q.Encode(), &out)
	return out, err
}

// Clients lists clients.
func (c *Client) Clients(ctx context.Context, q Query) iter.Seq2[ClientListItem, error] {
	return list[ClientListItem](c, ctx, "/api/Clients", q)
}

// Client returns one client, with the address ids orders need.
func (c *Client) Client(ctx context.Context, id string) (ClientDetails, error) {
	var d ClientDetails
	path, err := idPath("/api/Clients", id)
	if err == nil {
		err = c.get(ctx, path, &d)
	}
	return d, err
}

// CreateClient creates a client and returns its id. See ErrOutcomeUnknown.
func (c *Client) CreateClient(ctx context.Context, n NewClient) (string, error) {
	return c.create(ctx, "/api/Clients", n)
}

// Orders lists orders; cancelled ones (Status 2) included unless filtered out.
func (c *Client) Orders(ctx context.Context, q Query) iter.Seq2[OrderListItem, error] {
	return list[OrderListItem](c, ctx, "/api/Orders", q)
}

// Order returns one order with its lines.
func (c *Client) Order(ctx context.Context, id string) (OrderDetails, error) {
	var d OrderDetails
	path, err := idPath("/api/Orders", id)
	if err == nil {
		err = c.get(ctx, path, &d)
	}
	return d, err
}

// CreateOrder creates an order and returns its id. See ErrOutcomeUnknown: after it, find the order
// by PurchaseOrder before sending it again.
func (c *Client) CreateOrder(ctx context.Context, o NewOrder) (string, error) {
	return c.create(ctx, "/api/Orders", o)
}

// DeleteOrder deletes an order. Bind may cancel it instead (StatusCode 2, still listed); check
// with Order afterwards.
func (c *Client) DeleteOrder(ctx context.Context, id string) error {
	path, err := idPath("/api/Orders", id)
	if err != nil {
		return err
	}
	return c.do(ctx, call{method: http.MethodDelete, path: path})
}
