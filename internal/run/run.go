// Package run holds the use-cases on run history: reading runs and their items, and triggering syncs.
package run

import (
	"context"

	"github.com/handybind/handybind/internal/page"
	"github.com/handybind/handybind/internal/store"
)

// Enqueuer queues a sync and returns its (possibly merged) queued run.
type Enqueuer interface {
	Trigger(ctx context.Context, connectionID string, kind store.SyncKind, trigger store.RunTrigger) (*store.Run, error)
}

// Service runs the run-history use-cases.
type Service struct {
	store store.Store
	queue Enqueuer
}

// NewService returns a Service.
func NewService(s store.Store, queue Enqueuer) *Service { return &Service{store: s, queue: queue} }

// Get returns one run.
func (s *Service) Get(ctx context.Context, id string) (*store.Run, error) {
	return s.store.GetRun(ctx, id)
}

// ListRequest selects a page of runs.
type ListRequest struct {
	ConnectionID string
	Kind         store.SyncKind
	State        store.RunState
	PageSize     int32
	PageToken    string
}

// List returns a page of a connection's runs, newest first, and the next page's token.
func (s *Service) List(ctx context.Context, req ListRequest) ([]*store.Run, string, error) {
	// A connection that does not exist is a not-found, not an empty list.
	if _, err := s.store.GetConnection(ctx, req.ConnectionID); err != nil {
		return nil, "", err
	}
	filter := "connection=" + req.ConnectionID + "&kind=" + string(req.Kind) + "&state=" + string(req.State)
	before, err := page.Decode(req.PageToken, filter, "page_token")
	if err != nil {
		return nil, "", err
	}
	size := page.Size(req.PageSize, 50)
	runs, err := s.store.ListRuns(ctx, store.RunFilter{
		ConnectionID: req.ConnectionID, Kind: req.Kind, State: req.State, BeforeID: before, Limit: size + 1,
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(runs) > size {
		runs = runs[:size]
		next = page.Encode(runs[size-1].ID, filter)
	}
	return runs, next, nil
}

// ItemsRequest selects a page of a run's items.
type ItemsRequest struct {
	RunID     string
	Outcome   store.Outcome
	Entity    store.Entity
	PageSize  int32
	PageToken string
}

// Items returns a page of a run's items in the order they were recorded, and the next page's token.
func (s *Service) Items(ctx context.Context, req ItemsRequest) ([]*store.RunItem, string, error) {
	if _, err := s.store.GetRun(ctx, req.RunID); err != nil {
		return nil, "", err
	}
	filter := "run=" + req.RunID + "&outcome=" + string(req.Outcome) + "&entity=" + string(req.Entity)
	after, err := page.Decode(req.PageToken, filter, "page_token")
	if err != nil {
		return nil, "", err
	}
	size := page.Size(req.PageSize, 100)
	items, err := s.store.ListRunItems(ctx, store.RunItemFilter{
		RunID: req.RunID, Outcome: req.Outcome, Entity: req.Entity, AfterID: after, Limit: size + 1,
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > size {
		items = items[:size]
		next = page.Encode(items[size-1].ID, filter)
	}
	return items, next, nil
}

// Trigger queues a sync of an active connection; a trigger while the same sync is queued merges
// into it and returns that run.
func (s *Service) Trigger(ctx context.Context, connectionID string, kind store.SyncKind) (*store.Run, error) {
	return s.queue.Trigger(ctx, connectionID, kind, store.TriggerManual)
}
