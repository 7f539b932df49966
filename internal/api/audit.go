package api

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/page"
	"github.com/handybind/handybind/internal/store"
)

// AuditServer serves pb.AuditService: the audit log, read-only. The interceptor lets only
// platform keys in.
type AuditServer struct {
	pb.UnimplementedAuditServiceServer
	store store.AuditStore
}

// NewAuditServer returns an AuditServer.
func NewAuditServer(s store.AuditStore) *AuditServer { return &AuditServer{store: s} }

// ListAuditEvents implements pb.AuditServiceServer.
func (s *AuditServer) ListAuditEvents(ctx context.Context, req *pb.ListAuditEventsRequest) (*pb.ListAuditEventsResponse, error) {
	filter := "tenant=" + req.GetTenant()
	before, err := page.Decode(req.GetPageToken(), filter, "page_token")
	if err != nil {
		return nil, err
	}
	size := page.Size(req.GetPageSize(), 50)
	events, err := s.store.ListAudit(ctx, store.AuditFilter{Tenant: req.GetTenant(), BeforeID: before, Limit: size + 1})
	if err != nil {
		return nil, err
	}
	out := &pb.ListAuditEventsResponse{}
	if len(events) > size {
		events = events[:size]
		out.NextPageToken = page.Encode(events[size-1].ID, filter)
	}
	for _, e := range events {
		out.Events = append(out.Events, &pb.AuditEvent{
			Id: e.ID, Time: timestamppb.New(e.Time), KeyId: e.KeyID, Role: string(e.Role), Tenant: e.Tenant,
			Method: e.Method, Resource: e.Resource, Outcome: e.Outcome,
		})
	}
	return out, nil
}
