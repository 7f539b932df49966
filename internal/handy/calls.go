package handy

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DateField names the date a window filters on (Handy's filterWithDate).
type DateField string

// The date fields handybind windows on.
const (
	DateCreated       DateField = "dateCreated"       // arrival in Handy's backend: late mobile orders are not missed
	DateDeleted       DateField = "dateDeleted"       // deletion time, for the deleted-sales stream
	MobileDateCreated DateField = "mobileDateCreated" // capture time on the device
	LastUpdated       DateField = "lastUpdated"       // products changed since
)

// Window selects records whose Field falls between Start and End.
type Window struct {
	Field      DateField
	Start, End time.Time
}

// requestLayout is Handy's request date format.
const requestLayout = "02/01/2006 15:04:05"

// wallClock writes t as Handy reads a window bound: wall-clock time in the account's zone, to the
// second. Where the zone repeats or skips an hour (a UTC-offset change), the same wall-clock text
// names two instants or none; the bound is moved so that Handy's reading of it is never inside the
// window: a start is never read later than t, an end never earlier. Windows can only widen, and
// the sync de-duplicates by id.
func wallClock(t time.Time, loc *time.Location, isEnd bool) string {
	w := t.In(loc)
	naive := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, time.UTC)
	if isEnd && w.Nanosecond() > 0 {
		naive = naive.Add(time.Second)
	}
	for range 4 {
		read := time.Date(naive.Year(), naive.Month(), naive.Day(), naive.Hour(), naive.Minute(), naive.Second(), 0, loc)
		switch {
		case isEnd && read.Before(t):
			naive = naive.Add(t.Sub(read)).Truncate(time.Second).Add(time.Second)
		case !isEnd && read.After(t):
			naive = naive.Add(t.Sub(read)).Truncate(time.Second)
		default:
			return naive.Format(requestLayout)
		}
	}
	return naive.Format(requestLayout)
}

func (c *Client) windowQuery(q url.Values, w Window) {
	q.Set("filterWithDate", string(w.Field))
	q.Set("start", wallClock(w.Start, c.opts.Location, false))
	q.Set("end", wallClock(w.End, c.opts.Location, true))
}

// UserFilter selects users; zero values mean "any".
type UserFilter struct {
	Enabled *bool
	Role    int64 // 4 = sellers
}

// Users lists users, with their extras.
func (c *Client) Users(ctx context.Context, f UserFilter) iter.Seq2[User, error] {
	q := url.Values{}
	if f.Enabled != nil {
		q.Set("enabled", strconv.FormatBool(*f.Enabled))
	}
	if f.Role != 0 {
		q.Set("role", strconv.FormatInt(f.Role, 10))
	}
	return list[User](c, ctx, "/user", "users", q)
}

// Products lists enabled products; with a window, only those whose Field (LastUpdated) is in it.
func (c *Client) Products(ctx context.Context, w *Window) iter.Seq2[Product, error] {
	q := url.Values{}
	if w != nil {
		c.windowQuery(q, *w)
	}
	return list[Product](c, ctx, "/product", "products", q)
}

// Customers lists customers.
func (c *Client) Customers(ctx context.Context) iter.Seq2[Customer, error] {
	return list[Customer](c, ctx, "/customer", "customers", url.Values{})
}

// codePath puts a Handy code into a path; codes cannot hold "/" in Handy.
func codePath(resource, code string) (string, error) {
	if code == "" || strings.Contains(code, "/") {
		return "", fmt.Errorf("handy: %q is not a code (empty, or holds '/')", code)
	}
	return resource + "/" + url.PathEscape(code), nil
}

// Customer returns one customer by code.
func (c *Client) Customer(ctx context.Context, code string) (Customer, error) {
	var out Customer
	path, err := codePath("/customer", code)
	if err == nil {
		err = c.do(ctx, http.MethodGet, path, nil, &out)
	}
	return out, err
}

// SalesQuery selects sales orders.
type SalesQuery struct {
	Deleted bool
	Window  *Window
	// OnTotal, when set, is told how many sales the query matches before the first one.
	OnTotal func(int)
}

// SalesOrders lists sales orders, oldest first; each one is checked (see SalesOrder.Check).
func (c *Client) SalesOrders(ctx context.Context, sq SalesQuery) iter.Seq2[SalesOrder, error] {
	q := url.Values{"deleted": {strconv.FormatBool(sq.Deleted)}, "order": {"asc"}}
	if sq.Window != nil {
		c.windowQuery(q, *sq.Window)
	}
	return func(yield func(SalesOrder, error) bool) {
		// A sale deleted while the list is read (an edit deletes one) must not hide another.
		for o, err := range listCounted[SalesOrder](c, ctx, "/salesOrder", "salesOrders", q, sq.OnTotal, true) {
			if err == nil {
				if cerr := o.Check(); cerr != nil {
					err = fmt.Errorf("handy GET /salesOrder: sales order %d: %w", o.ID, cerr)
				}
			}
			if !yield(o, err) || err != nil {
				return
			}
		}
	}
}

// CreatedSales lists sales that reached Handy between from and to (by dateCreated, so that orders
// from devices that were offline are not missed).
func (c *Client) CreatedSales(ctx context.Context, from, to time.Time, onTotal func(int)) iter.Seq2[SalesOrder, error] {
	return c.SalesOrders(ctx, SalesQuery{Window: &Window{Field: DateCreated, Start: from, End: to}, OnTotal: onTotal})
}

// DeletedSales lists sales deleted between from and to (by dateDeleted).
func (c *Client) DeletedSales(ctx context.Context, from, to time.Time, onTotal func(int)) iter.Seq2[SalesOrder, error] {
	return c.SalesOrders(ctx, SalesQuery{Deleted: true, Window: &Window{Field: DateDeleted, Start: from, End: to}, OnTotal: onTotal})
}

// SalesOrder returns one sales order; an unknown id is ErrNotFound.
func (c *Client) SalesOrder(ctx context.Context, id int64) (SalesOrder, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/salesOrder/"+strconv.FormatInt(id, 10), nil, &raw); err != nil {
		return SalesOrder{}, err
	}
	return DecodeSalesOrder(raw)
}

// SalesOrderByExternalID returns the sales order whose externalId is ext.
func (c *Client) SalesOrderByExternalID(ctx context.Context, ext int64) (SalesOrder, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/salesOrder/external/"+strconv.FormatInt(ext, 10), nil, &raw); err != nil {
		return SalesOrder{}, err
	}
	return DecodeSalesOrder(raw)
}

// SetExternalID writes an order's externalId (handybind writes the Bind folio there).
func (c *Client) SetExternalID(ctx context.Context, id, ext int64) error {
	body, _ := json.Marshal(map[string]int64{"externalId": ext})
	return c.do(ctx, http.MethodPut, "/salesOrder/"+strconv.FormatInt(id, 10), body, nil)
}
