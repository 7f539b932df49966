package api

import (
	"context"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/run"
)

// RunServer serves pb.RunService.
type RunServer struct {
	pb.UnimplementedRunServiceServer
	svc *run.Service
}

// NewRunServer returns a RunServer.
func NewRunServer(svc *run.Service) *RunServer { return &RunServer{svc: svc} }

// TriggerSync implements pb.RunServiceServer.
func (s *RunServer) TriggerSync(ctx context.Context, req *pb.TriggerSyncRequest) (*pb.Run, error) {
	r, err := s.svc.Trigger(ctx, req.GetConnectionId(), reverse(syncKinds, req.GetKind()))
	if err != nil {
		return nil, err
	}
	return runToProto(r), nil
}

// GetRun implements pb.RunServiceServer.
func (s *RunServer) GetRun(ctx context.Context, req *pb.GetRunRequest) (*pb.Run, error) {
	r, err := s.svc.Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return runToProto(r), nil
}

// ListRuns implements pb.RunServiceServer.
func (s *RunServer) ListRuns(ctx context.Context, req *pb.ListRunsRequest) (*pb.ListRunsResponse, error) {
	runs, next, err := s.svc.List(ctx, run.ListRequest{
		ConnectionID: req.GetConnectionId(),
		Kind:         reverse(syncKinds, req.GetKind()),
		State:        reverse(runStates, req.GetState()),
		PageSize:     req.GetPageSize(),
		PageToken:    req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	out := &pb.ListRunsResponse{NextPageToken: next, Runs: make([]*pb.Run, len(runs))}
	for i, r := range runs {
		out.Runs[i] = runToProto(r)
	}
	return out, nil
}

// ListRunItems implements pb.RunServiceServer.
func (s *RunServer) ListRunItems(ctx context.Context, req *pb.ListRunItemsRequest) (*pb.ListRunItemsResponse, error) {
	items, next, err := s.svc.Items(ctx, run.ItemsRequest{
		RunID:     req.GetRunId(),
		Outcome:   reverse(outcomes, req.GetOutcome()),
		Entity:    reverse(entities, req.GetEntity()),
		PageSize:  req.GetPageSize(),
		PageToken: req.GetPageToken(),
	})
	if err != nil {
		return nil, err
	}
	out := &pb.ListRunItemsResponse{NextPageToken: next, Items: make([]*pb.RunItem, len(items))}
	for i, it := range items {
		out.Items[i] = runItemToProto(it)
	}
	return out, nil
}
