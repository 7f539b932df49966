package syncer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/store"
)

// deletedSales deletes in Bind the orders of sales deleted in Handy (D1), windowed by dateDeleted.
// The result is checked (gone, or cancelled with status 2); a deleted sale never sent is recorded
// as skipped, and one still pending is dropped from the retries, never sent.
func (s *session) deletedSales(ctx context.Context) error {
	from, to, err := s.window(ctx, store.SyncDeletedSales)
	if err != nil {
		return err
	}
	retry := false
	for sale, err := range s.handy.DeletedSales(ctx, from, to, s.expect) {
		if err != nil {
			return err
		}
		if err := s.e.interrupted(); err != nil {
			return err
		}
		s.done()
		id := strconv.FormatInt(sale.ID, 10)
		pendingErr := s.e.d.Store.DeletePendingSale(ctx, s.c.ID, id)
		if pendingErr != nil {
			return pendingErr
		}
		if sale.IsEdited {
			// The version an edit replaced: its order goes when the edit's order goes (see
			// replacePredecessor), never before, so a held edit does not leave the company with no
			// order at all.
			if err := s.leaveToEdit(ctx, id); err != nil {
				return err
			}
			continue
		}
		reason := fmt.Sprintf("deleted in Handy at %s", sale.DateDeleted.UTC().Format("2006-01-02 15:04:05Z"))
		failedBefore := s.rec.failed()
		if err := s.deleteSaleOrder(ctx, id, reason); err != nil {
			return err
		}
		// A deleted edit takes the versions it replaced with it: their orders were waiting for it.
		for p := sale.EditedFrom; p != nil; p = p.EditedFrom {
			pid := strconv.FormatInt(p.ID, 10)
			if err := s.e.d.Store.DeletePendingSale(ctx, s.c.ID, pid); err != nil {
				return err
			}
			if err := s.deleteSaleOrder(ctx, pid, fmt.Sprintf("its edit, sale %d, was deleted in Handy", sale.ID)); err != nil {
				return err
			}
		}
		if s.rec.failed() > failedBefore {
			retry = true
		}
	}
	if retry {
		// A deletion failed: the cursor stays, so the next run reads the window again; what was
		// deleted is recognised by its link and not touched twice.
		return nil
	}
	return s.e.d.Store.PutCursor(ctx, s.c.ID, store.SyncDeletedSales, to)
}

// deleteSaleOrder deletes the Bind order of a Handy sale, if it was sent, and records it. Running
// it twice changes nothing.
func (s *session) deleteSaleOrder(ctx context.Context, saleID, reason string) error {
	st := s.e.d.Store
	link, err := st.GetLink(ctx, s.c.ID, store.EntitySale, saleID)
	if isNotFound(err) {
		s.rec.add(ctx, store.EntitySale, saleID, "", store.OutcomeSkipped, reason+"; it was never sent to Bind", "")
		return nil
	}
	if err != nil {
		return err
	}
	bindID := link.BindID
	switch link.State {
	case store.LinkDeleted:
		return nil
	case store.LinkPending:
		// The create's answer was lost: the order exists only if Bind has it.
		found, ok, err := s.findOrder(ctx, saleID)
		if err != nil {
			return fatal(err)
		}
		if !ok {
			link.State = store.LinkDeleted
			if err := st.PutLink(ctx, link); err != nil {
				return err
			}
			s.rec.add(ctx, store.EntitySale, saleID, "", store.OutcomeSkipped, reason+"; it never reached Bind", "")
			return nil
		}
		bindID = found
	}
	if err := s.fence(); err != nil {
		return err
	}
	if err := s.bind.DeleteOrder(ctx, bindID); err != nil && !errors.Is(err, bind.ErrOutcomeUnknown) {
		// An answer that never came is settled by reading the order below, never by a second DELETE.
		var apiErr *bind.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
			s.rec.add(ctx, store.EntitySale, saleID, bindID, store.OutcomeFailed, "deleting the Bind order: "+err.Error(), "")
			return fatal(err)
		}
	}
	// Bind may cancel rather than remove: either counts as deleted.
	order, err := s.bind.Order(ctx, bindID)
	var apiErr *bind.APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		reason += "; the Bind order is gone"
	case err != nil:
		s.rec.add(ctx, store.EntitySale, saleID, bindID, store.OutcomeFailed, "checking the deletion: "+err.Error(), "")
		return fatal(err)
	case order.StatusCode == bind.OrderCancelled:
		reason += "; the Bind order is cancelled (status 2)"
	default:
		s.rec.add(ctx, store.EntitySale, saleID, bindID, store.OutcomeFailed, fmt.Sprintf("Bind accepted the deletion but the order is still %q", order.Status), "")
		return nil
	}
	link.State, link.BindID = store.LinkDeleted, bindID
	if err := st.PutLink(ctx, link); err != nil {
		return err
	}
	s.rec.add(ctx, store.EntitySale, saleID, bindID, store.OutcomeDeleted, reason, "")
	return nil
}

// leaveToEdit records that the order of a version an edit replaced is left for the edit's sync to
// replace; a version whose order is already gone (or that was never sent) needs nothing.
func (s *session) leaveToEdit(ctx context.Context, saleID string) error {
	link, err := s.e.d.Store.GetLink(ctx, s.c.ID, store.EntitySale, saleID)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if link.State == store.LinkDeleted {
		return nil
	}
	s.rec.add(ctx, store.EntitySale, saleID, link.BindID, store.OutcomeSkipped, "replaced by an edit in Handy; its Bind order is replaced when the edit's order is sent", "")
	return nil
}
