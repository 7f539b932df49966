package api

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/syncer"
)

// Activator activates a connection: checks tokens, resolves names, starts the first sync; a
// non-zero salesSince is where its sales sync starts.
type Activator func(ctx context.Context, id string, salesSince time.Time) (*store.Connection, error)

// SalesFrom says where a connection's next sales run starts reading (zero: never activated).
type SalesFrom func(ctx context.Context, c *store.Connection) (time.Time, error)

// ConnectionServer serves pb.ConnectionService.
type ConnectionServer struct {
	pb.UnimplementedConnectionServiceServer
	svc       *connection.Service
	activate  Activator
	salesFrom SalesFrom
	compare   Comparer
	log       *slog.Logger
}

// NewConnectionServer returns a ConnectionServer.
func NewConnectionServer(svc *connection.Service, activate Activator, salesFrom SalesFrom, log *slog.Logger) *ConnectionServer {
	return &ConnectionServer{svc: svc, activate: activate, salesFrom: salesFrom, log: log}
}

// one converts a connection read on its own, with where its sales sync reads from (lists leave
// that out: it is one more read per connection).
func (s *ConnectionServer) one(ctx context.Context, c *store.Connection) (*pb.Connection, error) {
	out := connectionToProto(c)
	health, err := s.svc.Health(ctx, []*store.Connection{c})
	if err != nil {
		return nil, err
	}
	out.Health = healthToProto(health[c.ID])
	if s.salesFrom != nil {
		from, err := s.salesFrom(ctx, c)
		if err != nil {
			return nil, err
		}
		if !from.IsZero() {
			out.SalesFrom = timestamppb.New(from)
		}
	}
	return out, nil
}

func inputFromProto(c *pb.Connection) connection.Input {
	in := connection.Input{
		DisplayName:    c.GetDisplayName(),
		HandyBaseURL:   c.GetHandy().GetBaseUrl(),
		HandyToken:     c.GetHandy().GetToken(),
		BindBaseURL:    c.GetBind().GetBaseUrl(),
		BindUserName:   c.GetBind().GetUserName(),
		BindToken:      c.GetBind().GetToken(),
		MappingVersion: c.GetMappingVersion(),
	}
	in.Settings.PriceList = c.GetSettings().GetPriceList()
	in.Settings.Currency = c.GetSettings().GetCurrency()
	in.Settings.Warehouse = c.GetSettings().GetWarehouse()
	in.Settings.LedgerAccount = c.GetSettings().GetLedgerAccount()
	in.Settings.TimeZone = c.GetSettings().GetTimeZone()
	return in
}

// CreateConnection implements pb.ConnectionServiceServer. A platform key names the tenant; a
// partner key creates in its own tenant, and naming another one is refused.
func (s *ConnectionServer) CreateConnection(ctx context.Context, req *pb.CreateConnectionRequest) (*pb.Connection, error) {
	tenant := req.GetConnection().GetTenant()
	caller, _ := auth.FromContext(ctx)
	if scope := caller.Scope(); scope != "" {
		if tenant != "" && tenant != scope {
			return nil, errs.PermissionDenied("this key belongs to tenant %s and cannot create connections of tenant %s", scope, tenant)
		}
		tenant = scope
	} else if tenant == "" {
		return nil, errs.InvalidField("connection.tenant", "is required with a platform key: name the Handy company the connection belongs to")
	}
	c, err := s.svc.Create(ctx, tenant, inputFromProto(req.GetConnection()))
	if err != nil {
		return nil, prefixViolations(err, "connection.")
	}
	return connectionToProto(c), nil
}

// GetConnection implements pb.ConnectionServiceServer.
func (s *ConnectionServer) GetConnection(ctx context.Context, req *pb.GetConnectionRequest) (*pb.Connection, error) {
	c, err := s.svc.Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return s.one(ctx, c)
}

// ListConnections implements pb.ConnectionServiceServer.
func (s *ConnectionServer) ListConnections(ctx context.Context, req *pb.ListConnectionsRequest) (*pb.ListConnectionsResponse, error) {
	tenant := req.GetTenant()
	if caller, _ := auth.FromContext(ctx); caller.Scope() != "" {
		if tenant != "" && tenant != caller.Scope() {
			// Said as CreateConnection says it: an empty list would read as "that tenant has no
			// connections". The answer is the same whether the tenant exists or not.
			return nil, errs.PermissionDenied("this key belongs to tenant %s and cannot list connections of tenant %s", caller.Scope(), tenant)
		}
		tenant = caller.Scope()
	}
	cs, next, err := s.svc.List(ctx, connection.ListRequest{
		Tenant:    tenant,
		PageSize:  req.GetPageSize(),
		PageToken: req.GetPageToken(),
		State:     reverse(connectionStates, req.GetState()),
	})
	if err != nil {
		return nil, err
	}
	health, err := s.svc.Health(ctx, cs)
	if err != nil {
		return nil, err
	}
	out := &pb.ListConnectionsResponse{NextPageToken: next, Connections: make([]*pb.Connection, len(cs))}
	for i, c := range cs {
		out.Connections[i] = connectionToProto(c)
		out.Connections[i].Health = healthToProto(health[c.ID])
	}
	return out, nil
}

// Groups in an update mask stand for all their fields.
var maskGroups = map[string][]string{
	"handy":    {connection.FieldHandyBaseURL, connection.FieldHandyToken},
	"bind":     {connection.FieldBindBaseURL, connection.FieldBindUserName, connection.FieldBindToken},
	"settings": {connection.FieldPriceList, connection.FieldCurrency, connection.FieldWarehouse, connection.FieldLedgerAccount, connection.FieldTimeZone},
}

var outputOnly = []string{"id", "tenant", "sales_from", "health", "state", "state_reason", "resolved", "schedule", "create_time", "update_time", "handy.token_set", "bind.token_set"}

// protoPath spells a field-mask path with the proto field names, whichever of the proto name
// (display_name) or the JSON name (displayName, as REST callers write it) each segment uses. A
// segment that names no field is left as it is, to be refused by name.
func protoPath(md protoreflect.MessageDescriptor, path string) string {
	segs := strings.Split(path, ".")
	for i, seg := range segs {
		if md == nil {
			break
		}
		fd := md.Fields().ByName(protoreflect.Name(seg))
		if fd == nil {
			fd = md.Fields().ByJSONName(seg)
		}
		if fd == nil {
			break
		}
		segs[i] = string(fd.Name())
		md = fd.Message()
	}
	return strings.Join(segs, ".")
}

// maskFields expands an update mask into use-case field names, refusing output-only fields.
func maskFields(paths []string) ([]string, error) {
	var fields []string
	var bad []errs.FieldViolation
	for _, p := range paths {
		p = protoPath((&pb.Connection{}).ProtoReflect().Descriptor(), p)
		switch {
		case slices.Contains(outputOnly, p) || strings.HasPrefix(p, "resolved."):
			bad = append(bad, errs.FieldViolation{Field: "update_mask", Description: p + " is output only and cannot be changed"})
		case maskGroups[p] != nil:
			fields = append(fields, maskGroups[p]...)
		default:
			fields = append(fields, p)
		}
	}
	if len(bad) > 0 {
		return nil, errs.Invalid(bad...)
	}
	if len(fields) == 0 {
		return nil, errs.InvalidField("update_mask", "names no field to change")
	}
	slices.Sort(fields)
	return slices.Compact(fields), nil
}

// UpdateConnection implements pb.ConnectionServiceServer.
func (s *ConnectionServer) UpdateConnection(ctx context.Context, req *pb.UpdateConnectionRequest) (*pb.Connection, error) {
	fields, err := maskFields(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, err
	}
	c, err := s.svc.Update(ctx, req.GetConnection().GetId(), inputFromProto(req.GetConnection()), fields)
	if err != nil {
		return nil, prefixViolations(err, "connection.")
	}
	return connectionToProto(c), nil
}

// DeleteConnection implements pb.ConnectionServiceServer.
func (s *ConnectionServer) DeleteConnection(ctx context.Context, req *pb.DeleteConnectionRequest) (*emptypb.Empty, error) {
	if err := s.svc.Delete(ctx, req.GetId()); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// ActivateConnection implements pb.ConnectionServiceServer.
func (s *ConnectionServer) ActivateConnection(ctx context.Context, req *pb.ActivateConnectionRequest) (*pb.Connection, error) {
	var since time.Time
	if req.GetSalesSince() != nil {
		since = req.GetSalesSince().AsTime()
	}
	c, err := s.activate(ctx, req.GetId(), since)
	if err != nil {
		return nil, err
	}
	return s.one(ctx, c)
}

// PauseConnection implements pb.ConnectionServiceServer.
func (s *ConnectionServer) PauseConnection(ctx context.Context, req *pb.PauseConnectionRequest) (*pb.Connection, error) {
	c, err := s.svc.Pause(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return s.one(ctx, c)
}

// Comparer runs a mapping dry run on a connection: its pinned version against version, on its
// sample most recent sent sales.
type Comparer func(ctx context.Context, c *store.Connection, version string, sample int) (*syncer.Comparison, error)

// WithComparer sets what CompareMapping runs.
func (s *ConnectionServer) WithComparer(c Comparer) *ConnectionServer {
	s.compare = c
	return s
}

// defaultSample is how many sales a dry run compares when the caller names no number.
const defaultSample = 10

// CompareMapping implements pb.ConnectionServiceServer.
func (s *ConnectionServer) CompareMapping(ctx context.Context, req *pb.CompareMappingRequest) (*pb.CompareMappingResponse, error) {
	if s.compare == nil {
		return nil, errs.FailedPrecondition("mapping dry runs are not available on this server")
	}
	c, err := s.svc.Get(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	sample := int(req.GetSampleSize())
	if sample == 0 {
		sample = defaultSample
	}
	cmp, err := s.compare(ctx, c, req.GetVersion(), sample)
	if err != nil {
		return nil, err
	}
	out := &pb.CompareMappingResponse{PinnedVersion: cmp.Pinned, CandidateVersion: cmp.Candidate, UnchangedCount: int32(cmp.Unchanged)}
	for _, sc := range cmp.Sales {
		ps := &pb.SaleComparison{HandySaleId: sc.HandySaleID, BindOrderId: sc.BindOrderID,
			CandidateRefusal: sc.CandidateRefusal, PinnedRefusal: sc.PinnedRefusal, Error: sc.Error}
		for _, ch := range sc.Changes {
			ps.Changes = append(ps.Changes, &pb.FieldChange{Path: ch.Path, OldValueJson: ch.Old, NewValueJson: ch.New, Rule: ch.Rule, Line: int32(ch.Line)})
		}
		out.Sales = append(out.Sales, ps)
	}
	return out, nil
}
