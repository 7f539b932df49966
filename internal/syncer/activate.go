package syncer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/handybind/handybind/internal/apiclient"
	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/egress"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/store"
)

// Activate checks both tokens, resolves the names in the connection's settings to Bind ids (A1),
// stores them and marks the connection active. A name that does not resolve is a
// failed-precondition error listing the valid names; every such problem is reported at once.
// enqueue runs in the same transaction as the state change, to schedule the initial product sync.
func (e *Engine) Activate(ctx context.Context, id string, enqueue func(ctx context.Context, tx store.Store, c *store.Connection) error) (*store.Connection, error) {
	return e.ActivateFrom(ctx, id, time.Time{}, enqueue)
}

// MaxBackfill is how far back an activation may ask the sales sync to start.
const MaxBackfill = 31 * 24 * time.Hour

// ActivateFrom is Activate with a chosen start for the sales sync: when salesSince is set, the
// next sales run reads the sales that reached Handy from then on (at most MaxBackfill back). It
// may only move the start of a connection that is not active (new, paused or stopped), so a
// running schedule is never moved under it; sales already in Bind are never sent again.
func (e *Engine) ActivateFrom(ctx context.Context, id string, salesSince time.Time, enqueue func(ctx context.Context, tx store.Store, c *store.Connection) error) (*store.Connection, error) {
	c, err := e.d.Store.GetConnection(ctx, id)
	if err != nil {
		return nil, err
	}
	if !salesSince.IsZero() {
		now := e.d.Now()
		switch {
		case salesSince.After(now):
			return nil, errs.InvalidField("sales_since", "%s is in the future", salesSince.UTC().Format(time.RFC3339))
		case salesSince.Before(now.Add(-MaxBackfill)):
			return nil, errs.InvalidField("sales_since", "%s is more than %d days back; the earliest allowed is %s", salesSince.UTC().Format(time.RFC3339),
				int(MaxBackfill.Hours()/24), now.Add(-MaxBackfill).UTC().Format(time.RFC3339))
		}
		if c.State == store.ConnectionActive {
			return nil, errs.FailedPrecondition("connection %s is active; pause it before choosing where its sales sync starts", c.ID)
		}
	}
	if _, err := e.mapping(c); err != nil {
		return nil, err
	}
	bc, hc, err := e.clients(c)
	if err != nil {
		return nil, err
	}
	// Handy: a cheap read. Bind: the key's own profile. Both are asked, so that two wrong
	// credentials are named in one answer rather than one per attempt.
	var handyErr error
	for _, err := range hc.Users(ctx, handy.UserFilter{}) {
		handyErr = err
		break
	}
	profile, bindErr := bc.UserProfile(ctx)
	switch {
	case handyErr != nil && bindErr != nil:
		he, be := upstream("Handy", "the API token", handyErr), upstream("Bind", "the API key of user "+c.BindUserName, bindErr)
		kind := errs.KindOf(he)
		if errs.KindOf(be) != kind {
			kind = errs.KindUnavailable
		}
		return nil, &errs.Error{Kind: kind, Message: he.Error() + "; and " + be.Error(), Cause: errors.Join(handyErr, bindErr)}
	case handyErr != nil:
		return nil, upstream("Handy", "the API token", handyErr)
	case bindErr != nil:
		return nil, upstream("Bind", "the API key of user "+c.BindUserName, bindErr)
	}

	var problems []string
	var fields []errs.FieldViolation // the same problems, by field, for clients that show them there
	problem := func(field, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		problems = append(problems, field+" "+msg)
		fields = append(fields, errs.FieldViolation{Field: field, Description: msg})
	}
	// A1: the Bind user named in the connection is the one the key belongs to, so that orders are
	// captured by the user the company expects (S5).
	switch who := strings.TrimSpace(c.BindUserName); {
	case who == "":
		problem("bind.user_name", "is not set; the API key belongs to %s", describeUser(profile))
	case !strings.EqualFold(who, profile.Username) && !strings.EqualFold(who, profile.Email):
		problem("bind.user_name", "%q is not the user the API key belongs to (%s); give that user's key, or its name", who, describeUser(profile))
	}
	pick := func(what, want string, names []string, match func(i int) bool) int {
		if strings.TrimSpace(want) == "" {
			problem("settings."+what, "is not set; the valid names are %s", quoteList(names))
			return -1
		}
		for i := range names {
			if match(i) {
				return i
			}
		}
		problem("settings."+what, "%q is not in Bind; the valid names are %s", want, quoteList(names))
		return -1
	}
	same := func(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) }

	priceLists, err := bind.All(bc.PriceLists(ctx, bind.Query{}))
	if err != nil {
		return nil, upstream("Bind", "", err)
	}
	currencies, err := bind.All(bc.Currencies(ctx, bind.Query{}))
	if err != nil {
		return nil, upstream("Bind", "", err)
	}
	warehouses, err := bind.All(bc.Warehouses(ctx, bind.Query{}))
	if err != nil {
		return nil, upstream("Bind", "", err)
	}
	accounts, err := bind.All(bc.Accounts(ctx, bind.Query{}))
	if err != nil {
		return nil, upstream("Bind", "", err)
	}
	names := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	pl := pick("price_list", c.Settings.PriceList, names(len(priceLists), func(i int) string { return priceLists[i].Name }),
		func(i int) bool { return same(priceLists[i].Name, c.Settings.PriceList) })
	cur := pick("currency", c.Settings.Currency, names(len(currencies), func(i int) string { return currencies[i].Code }),
		func(i int) bool {
			return same(currencies[i].Code, c.Settings.Currency) || same(currencies[i].Name, c.Settings.Currency)
		})
	wh := pick("warehouse", c.Settings.Warehouse, names(len(warehouses), func(i int) string { return warehouses[i].Name }),
		func(i int) bool { return same(warehouses[i].Name, c.Settings.Warehouse) })
	acct := pick("ledger_account", c.Settings.LedgerAccount, names(len(accounts), func(i int) string { return accounts[i].Number }),
		func(i int) bool { return same(accounts[i].Number, c.Settings.LedgerAccount) })
	if len(problems) > 0 {
		e := errs.FailedPrecondition("connection %s cannot be activated: %s", c.ID, strings.Join(problems, "; "))
		e.Violations = fields
		return nil, e
	}

	var out *store.Connection
	err = e.d.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		out, err = tx.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
			c.Resolved = store.ResolvedIDs{
				PriceListID: priceLists[pl].ID, CurrencyID: currencies[cur].ID, WarehouseID: warehouses[wh].ID,
				LocationID: warehouses[wh].LocationID, AccountID: accounts[acct].ID, UserID: profile.UserID,
				ResolvedAt: e.d.Now().UTC(),
			}
			c.Settings.Currency = currencies[cur].Code
			c.State, c.StateReason = store.ConnectionActive, ""
			return nil
		})
		if err != nil {
			return err
		}
		if !salesSince.IsZero() {
			// The window reaches Overlap before the cursor: store it so the window starts at salesSince.
			if err := tx.PutCursor(ctx, out.ID, store.SyncSales, salesSince.UTC().Add(Overlap)); err != nil {
				return err
			}
		}
		if enqueue == nil {
			return nil
		}
		return enqueue(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	e.d.Log.InfoContext(ctx, "connection activated", "connection_id", out.ID, "bind_user", profile.Username)
	return out, nil
}

// upstream turns a failure of Handy or Bind into an error that says which system refused what.
func upstream(system, what string, err error) error {
	if errors.Is(err, bind.ErrCredentialsRejected) || errors.Is(err, handy.ErrCredentialsRejected) {
		return &errs.Error{Kind: errs.KindFailedPrecondition, Message: fmt.Sprintf("%s rejected %s; check it and update the connection", system, what), Cause: err}
	}
	var be *bind.APIError
	var he *handy.APIError
	switch {
	case errors.As(err, &be):
		return errs.Unavailable(err, "%s answered HTTP %d to %s %s (%s)", system, be.Status, be.Method, be.Path, apiclient.StatusReason(be.Status))
	case errors.As(err, &he):
		return errs.Unavailable(err, "%s answered HTTP %d to %s %s (%s)", system, he.Status, he.Method, he.Path, apiclient.StatusReason(he.Status))
	}
	var refused *egress.NotAllowedError
	if errors.As(err, &refused) {
		// Not what the name resolved to: that is the operator's network, not the caller's business.
		return &errs.Error{Kind: errs.KindFailedPrecondition, Message: fmt.Sprintf("%s: the address of its base URL is not one the service may call; the operator allows hosts with --allow-hosts", system), Cause: err}
	}
	// One answer for every transport failure: refused, timed out or silent would tell a caller
	// which ports are open on hosts it cannot see.
	return errs.Unavailable(err, "%s could not be reached; check its base URL, or try again later", system)
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "(none: Bind has none)"
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	return `"` + strings.Join(sorted, `", "`) + `"`
}

// describeUser names a Bind user for an error message.
func describeUser(p bind.UserProfile) string {
	switch {
	case p.Username != "" && p.Email != "" && !strings.EqualFold(p.Username, p.Email):
		return fmt.Sprintf("user %q, %s", p.Username, p.Email)
	case p.Username != "":
		return fmt.Sprintf("user %q", p.Username)
	case p.Email != "":
		return fmt.Sprintf("user %q", p.Email)
	}
	return "a user with no name"
}

// SalesFrom is where the next sales run of a connection starts reading (its window's start), or
// zero for a connection never activated.
func (e *Engine) SalesFrom(ctx context.Context, c *store.Connection) (time.Time, error) {
	pos, ok, err := e.d.Store.GetCursor(ctx, c.ID, store.SyncSales)
	if err != nil {
		return time.Time{}, err
	}
	if !ok {
		if c.Resolved.ResolvedAt.IsZero() {
			return time.Time{}, nil
		}
		pos = c.Resolved.ResolvedAt
	}
	return pos.Add(-Overlap).UTC(), nil
}
