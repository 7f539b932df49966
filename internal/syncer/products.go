package syncer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/mapping"
	"github.com/handybind/handybind/internal/store"
)

// products copies every enabled Handy product to Bind (P1): Code and Title by the mapping (P2),
// created with its price (P3). Existing products are found by link, then by Code, never
// duplicated; a changed title is updated. Bind's public API cannot change a list price, so a price
// that differs is reported, not "fixed". Stock is never read from Handy nor written to Bind (P4).
func (s *session) products(ctx context.Context) error {
	existing, err := bind.All(s.bind.Products(ctx, bind.Query{}))
	if err != nil {
		return err
	}
	byCode := make(map[string]bind.Product, len(existing))
	byID := make(map[string]bind.Product, len(existing))
	for _, p := range existing {
		byCode[p.Code] = p
		byID[p.ID] = p
	}
	prices := map[string]bind.ProductPriceAndInventory{}
	list, err := s.bind.ProductsPriceAndInventory(ctx, s.c.Resolved.WarehouseID, s.c.Resolved.PriceListID)
	if err != nil {
		return err
	}
	for _, p := range list {
		prices[p.ID] = p
	}
	for hp, err := range s.handy.Products(ctx, nil) {
		if err != nil {
			return err
		}
		if err := s.e.interrupted(); err != nil {
			return err
		}
		if err := s.product(ctx, hp, byID, byCode, prices); err != nil {
			return err
		}
		s.done()
	}
	return nil
}

func (s *session) product(ctx context.Context, hp handy.Product, byID, byCode map[string]bind.Product, prices map[string]bind.ProductPriceAndInventory) error {
	st := s.e.d.Store
	out, err := s.m.Product(&mapping.ProductEnv{Product: mapping.ProductOf(hp), Connection: s.conn})
	if err != nil {
		s.rec.add(ctx, store.EntityProduct, hp.Code, "", store.OutcomeFailed, err.Error(), "")
		return nil
	}
	payload := out.NewProduct
	sum := digest(out)
	// Found by link, then by Code: a create whose answer never came shows up in Bind by its Code,
	// which the list above was read for, so it is never created twice.
	var existing bind.Product
	found := false
	if link, err := st.GetLink(ctx, s.c.ID, store.EntityProduct, hp.Code); err == nil && link.State == store.LinkConfirmed {
		existing, found = byID[link.BindID]
	} else if err != nil && !isNotFound(err) {
		return err
	}
	if !found {
		existing, found = byCode[payload.Code]
	}
	if !found {
		// Before the intent, too: a process that stalled must not overwrite the link of the one
		// that took over (later writes ask the Bind client's guard).
		if err := s.fence(); err != nil {
			return err
		}
		if err := st.PutLink(ctx, &store.Link{ConnectionID: s.c.ID, Entity: store.EntityProduct, HandyID: hp.Code, State: store.LinkPending, PayloadDigest: sum, MappingVersion: s.m.Version}); err != nil {
			return err
		}
		id, err := s.bind.CreateProduct(ctx, payload)
		if errors.Is(err, bind.ErrOutcomeUnknown) {
			if p, ok, ferr := s.findProduct(ctx, payload.Code); ferr == nil && ok {
				id, err = p.ID, nil
			}
		}
		if err != nil {
			s.rec.add(ctx, store.EntityProduct, hp.Code, "", store.OutcomeFailed, "creating the product in Bind: "+err.Error(), sum)
			return fatal(err)
		}
		if err := st.PutLink(ctx, &store.Link{ConnectionID: s.c.ID, Entity: store.EntityProduct, HandyID: hp.Code, BindID: id, State: store.LinkConfirmed, PayloadDigest: sum, MappingVersion: s.m.Version}); err != nil {
			return err
		}
		byCode[payload.Code] = bind.Product{ID: id, Code: payload.Code, Title: payload.Title}
		byID[id] = byCode[payload.Code]
		// NewProduct carries no taxes: they are set by an edit of the product as Bind created it.
		reason := ""
		if out.ChargeVAT != nil || out.IEPSRate != nil {
			d, err := s.bind.Product(ctx, id)
			if err != nil {
				s.rec.add(ctx, store.EntityProduct, hp.Code, id, store.OutcomeFailed, "created, but reading it back to set its taxes failed (the next product sync sets them): "+err.Error(), sum)
				return fatal(err)
			}
			created := productOf(d)
			if edit, changes := productEdit(created, out, false); len(changes) > 0 {
				if err := s.bind.EditProduct(ctx, edit); err != nil {
					s.rec.add(ctx, store.EntityProduct, hp.Code, id, store.OutcomeFailed, "created, but setting its taxes failed (the next product sync sets them): "+err.Error(), sum)
					return fatal(err)
				}
				reason = strings.Join(changes, "; ")
			}
		}
		s.rec.add(ctx, store.EntityProduct, hp.Code, id, store.OutcomeCreated, reason, sum)
		return nil
	}

	outcome, reason := store.OutcomeUnchanged, ""
	if edit, changes := productEdit(existing, out, true); len(changes) > 0 {
		if edit.CurrencyID == "" {
			edit.CurrencyID = payload.CurrencyID
		}
		if err := s.bind.EditProduct(ctx, edit); err != nil {
			s.rec.add(ctx, store.EntityProduct, hp.Code, existing.ID, store.OutcomeFailed, "updating the product in Bind ("+strings.Join(changes, "; ")+"): "+err.Error(), sum)
			return fatal(err)
		}
		outcome, reason = store.OutcomeUpdated, strings.Join(changes, "; ")
	}
	if p, ok := prices[existing.ID]; ok && !p.Price.Equal(payload.Price) {
		drift := fmt.Sprintf("price differs: Handy's is %s, Bind's list %q has %s; Bind's public API cannot change list prices (EditProduct has no price), so change it in Bind",
			payload.Price, s.c.Settings.PriceList, p.Price)
		if reason != "" {
			reason += "; "
		}
		reason += drift
	}
	if err := st.PutLink(ctx, &store.Link{ConnectionID: s.c.ID, Entity: store.EntityProduct, HandyID: hp.Code, BindID: existing.ID, State: store.LinkConfirmed, PayloadDigest: sum, MappingVersion: s.m.Version}); err != nil {
		return err
	}
	s.rec.add(ctx, store.EntityProduct, hp.Code, existing.ID, outcome, reason, sum)
	return nil
}

// productEdit is the edit that brings a Bind product to what the mapping says, and the changes
// it makes in words; none when it is already there. The title is compared only for a product
// that was there before (a new one has the mapping's title already).
func productEdit(p bind.Product, out mapping.ProductOut, title bool) (bind.EditProduct, []string) {
	edit := editOf(p, out.CurrencyID)
	var changes []string
	if title && p.Title != out.Title {
		edit.Title, edit.Description = out.Title, out.Description
		changes = append(changes, fmt.Sprintf("title changed from %q to %q", p.Title, out.Title))
	}
	if out.ChargeVAT != nil && *out.ChargeVAT != p.ChargeVAT {
		edit.ChargeVAT = *out.ChargeVAT
		if edit.ChargeVAT {
			changes = append(changes, "now bears VAT")
		} else {
			changes = append(changes, "VAT-exempt")
		}
	}
	if out.IEPSRate != nil && !out.IEPSRate.Equal(p.IEPSRate) {
		edit.IEPSRate = *out.IEPSRate
		changes = append(changes, fmt.Sprintf("IEPS rate %s (was %s)", out.IEPSRate, p.IEPSRate))
	}
	return edit, changes
}

// productOf is the list view of a product read by id.
func productOf(d bind.ProductDetails) bind.Product {
	return bind.Product{
		ID: d.ID, Code: d.Code, Title: d.Title, Description: d.Description, Cost: d.Cost, SKU: d.SKU,
		CostType: d.CostType, Category1ID: d.Category1ID, Category2ID: d.Category2ID, Category3ID: d.Category3ID,
		ChargeVAT: d.ChargeVAT, Number: d.Number, PricingType: d.PricingType, Unit: d.Unit, CurrencyID: d.CurrencyID,
		PurchaseType: d.PurchaseType, IEPSRate: d.IEPSRate, Type: d.Type, ProductionAuto: d.ProductionAuto,
	}
}

// editOf is an edit of a product that changes nothing yet. Bind's PUT replaces the whole product,
// so every field the list shows is carried over: one left out would be cleared (ChargeVAT false
// makes a product VAT-exempt).
func editOf(p bind.Product, currency string) bind.EditProduct {
	if p.CurrencyID != "" {
		currency = p.CurrencyID
	}
	return bind.EditProduct{
		ID: p.ID, Code: p.Code, Title: p.Title, Cost: p.Cost, CurrencyID: currency, SKU: p.SKU,
		Description: p.Description, CostType: &p.CostType, Category1ID: p.Category1ID,
		Category2ID: p.Category2ID, Category3ID: p.Category3ID, ChargeVAT: p.ChargeVAT,
		Number: &p.Number, PricingType: &p.PricingType, Unit: p.Unit, PurchaseType: &p.PurchaseType,
		IEPSRate: p.IEPSRate, Type: &p.Type, ProductionAuto: &p.ProductionAuto,
	}
}

func (s *session) findProduct(ctx context.Context, code string) (bind.Product, bool, error) {
	ps, err := bind.All(s.bind.Products(ctx, bind.Query{Filter: bind.Eq("Code", code), Top: 1}))
	if err != nil || len(ps) == 0 {
		return bind.Product{}, false, err
	}
	return ps[0], true, nil
}

// fatal says whether an error stops the whole run rather than one record: the credentials are
// gone, or the context ended.
func fatal(err error) error {
	if errors.Is(err, bind.ErrCredentialsRejected) || errors.Is(err, handy.ErrCredentialsRejected) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errLeaseRanOut) {
		return err
	}
	return nil
}
