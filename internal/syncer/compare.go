package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/store"
)

// FieldChange is one output field a candidate mapping version would make differently.
type FieldChange struct {
	Path     string
	Old, New string // JSON; empty when that version does not produce the field
	Rule     string // the candidate's rule, when it produces the field
	Line     int
}

// SaleComparison is what one sent sale would become under a candidate version.
type SaleComparison struct {
	HandySaleID, BindOrderID string
	Changes                  []FieldChange
	// CandidateRefusal and PinnedRefusal say why that version would not send the sale today.
	CandidateRefusal, PinnedRefusal string
	// Error says why the sale could not be compared at all.
	Error string
}

// Comparison is a dry run of a candidate mapping version on a connection's recent sales.
type Comparison struct {
	Pinned, Candidate string
	Sales             []SaleComparison
	Unchanged         int
}

// CompareMapping maps the connection's most recent sales already in Bind (read again from Handy)
// with its pinned version and with candidate, and reports what would differ. It writes nothing:
// not to Handy, not to Bind, not to the store.
func (e *Engine) CompareMapping(ctx context.Context, connectionID string, candidate *mapping.Mapping, sample int) (*Comparison, error) {
	c, err := e.d.Store.GetConnection(ctx, connectionID)
	if err != nil {
		return nil, err
	}
	pinned, err := e.mapping(c)
	if err != nil {
		return nil, err
	}
	_, hc, err := e.clients(c)
	if err != nil {
		return nil, errs.FailedPrecondition("%v", err)
	}
	links, err := e.d.Store.RecentLinks(ctx, c.ID, store.EntitySale, store.LinkConfirmed, sample)
	if err != nil {
		return nil, err
	}
	out := &Comparison{Pinned: pinned.Version, Candidate: candidate.Version}
	view := connectionView(c)
	for _, l := range links {
		sc := SaleComparison{HandySaleID: l.HandyID, BindOrderID: l.BindID}
		id, err := strconv.ParseInt(l.HandyID, 10, 64)
		if err != nil {
			sc.Error = fmt.Sprintf("%q is not a Handy sale id", l.HandyID)
			out.Sales = append(out.Sales, sc)
			continue
		}
		sale, err := hc.SalesOrder(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			sc.Error = "reading the sale from Handy: " + err.Error()
			out.Sales = append(out.Sales, sc)
			continue
		}
		oldOut, oldRefusal := mapForComparison(ctx, pinned, sale, view)
		newOut, newRefusal := mapForComparison(ctx, candidate, sale, view)
		sc.PinnedRefusal, sc.CandidateRefusal = oldRefusal, newRefusal
		sc.Changes = diffFields(oldOut.Fields, newOut.Fields)
		if len(sc.Changes) == 0 && sc.CandidateRefusal == "" && sc.PinnedRefusal == "" {
			out.Unchanged++
		}
		out.Sales = append(out.Sales, sc)
	}
	return out, nil
}

// mapForComparison maps a sale and applies the checks a sync makes of the mapped order that
// need nothing from Bind: one VAT rate, and the Bind total equal to Handy's.
func mapForComparison(ctx context.Context, m *mapping.Mapping, sale handy.SalesOrder, view mapping.Connection) (mapping.SaleOutput, string) {
	if rates := vatRates(sale); len(rates) > 1 {
		return mapping.SaleOutput{}, fmt.Sprintf("the sale has lines at %s VAT: a Bind order has one VAT rate", joinAnd(rates))
	}
	out, err := m.MapSale(ctx, sale, view)
	if err != nil {
		return out, err.Error()
	}
	if total := expectedTotal(out.Order); !total.Equal(sale.TotalSales) {
		return out, fmt.Sprintf("the Bind total would be %s but Handy's totalSales is %s", total, sale.TotalSales)
	}
	return out, ""
}

// diffFields lists the fields whose values differ, in the candidate's order, then the fields
// only the pinned version produced.
func diffFields(old, cand []mapping.Explained) []FieldChange {
	oldByPath := make(map[string]string, len(old))
	for _, f := range old {
		oldByPath[f.Field] = jsonText(f.Value)
	}
	var changes []FieldChange
	seen := make(map[string]bool, len(cand))
	for _, f := range cand {
		seen[f.Field] = true
		nv := jsonText(f.Value)
		if ov, ok := oldByPath[f.Field]; !ok || ov != nv {
			changes = append(changes, FieldChange{Path: f.Field, Old: ov, New: nv, Rule: f.Rule, Line: f.Line})
		}
	}
	for _, f := range old {
		if !seen[f.Field] {
			changes = append(changes, FieldChange{Path: f.Field, Old: oldByPath[f.Field]})
		}
	}
	return changes
}

// jsonText writes a value as JSON for people: "<beto@example.com>" stays as it is (this is not
// HTML).
func jsonText(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%q", fmt.Sprint(v))
	}
	return strings.TrimSuffix(b.String(), "\n")
}
