package syncer

import (
	"context"
	"errors"
	"fmt"

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
		if err := s.product(ctx, hp, byID, byCode, prices); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) product(ctx context.Context, hp handy.Product, byID, byCode map[string]bind.Product, prices map[string]bind.ProductPriceAndInventory) error {
	st := s.e.d.Store
	payload, err := s.m.Product(&mapping.ProductEnv{Product: mapping.ProductOf(hp), Connection: s.conn})
	if err != nil {
		s.rec.add(ctx, store.EntityProduct, hp.Code, "", store.OutcomeFailed, err.Error(), "")
		return nil
	}
	sum := digest(payload)
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
		s.rec.add(ctx, store.EntityProduct, hp.Code, id, store.OutcomeCreated, "", sum)
		return nil
	}

	outcome, reason := store.OutcomeUnchanged, ""
	if existing.Title != payload.Title {
		edit := editOf(existing, payload.CurrencyID)
		edit.Title, edit.Description = payload.Title, payload.Description
		if err := s.bind.EditProduct(ctx, edit); err != nil {
			s.rec.add(ctx, store.EntityProduct, hp.Code, existing.ID, store.OutcomeFailed, "updating the title in Bind: "+err.Error(), sum)
			return fatal(err)
		}
		outcome, reason = store.OutcomeUpdated, fmt.Sprintf("title changed from %q to %q", existing.Title, payload.Title)
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
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
