package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/auth"
	"github.com/handybind/handybind/internal/catalog"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/mapping"
)

// DefaultMappingName is the mapping a request means when it names none.
const DefaultMappingName = "handy-bind"

// Checking a mapping (ValidateMapping, TestMapping, PreviewMapping) compiles and runs what the
// caller sent; the mapping package bounds each check to a few tens of megabytes and about a second.
// At most mappingChecks run at once, so that many callers together stay within a few hundred
// megabytes; a call that finds no free slot within mappingCheckWait is refused as busy.
const (
	mappingChecks    = 4
	mappingCheckWait = 250 * time.Millisecond
)

// MappingServer serves pb.MappingService. Only publishing, deprecating and deleting versions write,
// and only to the catalog of versions.
type MappingServer struct {
	pb.UnimplementedMappingServiceServer
	cat    *catalog.Catalog
	checks chan struct{} // a slot per check running
	wait   time.Duration
}

// NewMappingServer returns a MappingServer over the catalog of versions.
func NewMappingServer(cat *catalog.Catalog) *MappingServer {
	return &MappingServer{cat: cat, checks: make(chan struct{}, mappingChecks), wait: mappingCheckWait}
}

// startCheck takes a slot for a check, waiting a little for one; done gives it back.
func (s *MappingServer) startCheck(ctx context.Context) (done func(), err error) {
	done = func() { <-s.checks }
	select {
	case s.checks <- struct{}{}:
		return done, nil
	default:
	}
	wait := time.NewTimer(s.wait)
	defer wait.Stop()
	select {
	case s.checks <- struct{}{}:
		return done, nil
	case <-wait.C:
		return nil, errs.ResourceExhausted("the server is busy checking other mappings (%d at a time); retry in a moment", cap(s.checks))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// checkError is the error of a check that failed: a limit it hit is RESOURCE_EXHAUSTED with the
// limit's message.
func checkError(err error) error {
	if mapping.IsLimit(err) {
		return errs.ResourceExhausted("%v", err)
	}
	return err
}

func problemsToProto(ps []mapping.Problem) []*pb.MappingProblem {
	out := make([]*pb.MappingProblem, len(ps))
	for i, p := range ps {
		out[i] = &pb.MappingProblem{Line: int32(p.Line), Column: int32(p.Column), Rule: p.Rule, Message: p.Message}
	}
	return out
}

func versionToProto(v *catalog.Version, withSource bool, using []string) *pb.Mapping {
	out := &pb.Mapping{
		Name: v.Name, Version: v.Version, Description: v.Description, Checksum: v.Checksum, Active: v.Usable(),
		Problems: problemsToProto(v.Problems), Tenant: v.Tenant, BuiltIn: v.BuiltIn, AuthorKeyId: v.AuthorKeyID,
		Deprecated: v.Deprecated, ConnectionIds: using,
	}
	if !v.CreatedAt.IsZero() {
		out.CreateTime = timestamppb.New(v.CreatedAt)
	}
	if withSource && v.Mapping != nil {
		out.Source = string(v.Mapping.Source)
	}
	return out
}

// scope is the tenant a caller is confined to; "" for platform keys.
func scope(ctx context.Context) (string, *auth.Caller) {
	c, _ := auth.FromContext(ctx)
	return c.Scope(), c
}

// tenantParam checks a request's tenant: only a platform key names one; another key may only
// repeat its own. It returns the scope to look in.
func tenantParam(sc, tenant string) (string, error) {
	switch {
	case tenant == "" || tenant == sc:
		return sc, nil
	case sc != "":
		return "", errs.PermissionDenied("only a platform key names a tenant; this key sees its own tenant's versions (%s) and the global ones", sc)
	}
	return tenant, nil
}

// ListMappings implements pb.MappingServiceServer.
func (s *MappingServer) ListMappings(ctx context.Context, req *pb.ListMappingsRequest) (*pb.ListMappingsResponse, error) {
	sc, _ := scope(ctx)
	listScope, err := tenantParam(sc, req.GetTenant())
	if err != nil {
		return nil, err
	}
	out := &pb.ListMappingsResponse{}
	for _, v := range s.cat.List(listScope) {
		using, err := s.cat.Using(ctx, sc, v)
		if err != nil {
			return nil, err
		}
		out.Mappings = append(out.Mappings, versionToProto(v, false, using))
	}
	return out, nil
}

// GetMapping implements pb.MappingServiceServer.
func (s *MappingServer) GetMapping(ctx context.Context, req *pb.GetMappingRequest) (*pb.Mapping, error) {
	sc, _ := scope(ctx)
	if _, err := tenantParam(sc, req.GetTenant()); err != nil {
		return nil, err
	}
	v, ok := s.cat.Find(sc, req.GetTenant(), req.GetName(), req.GetVersion())
	if !ok {
		return nil, s.notFound(sc, req.GetTenant(), req.GetName(), req.GetVersion())
	}
	using, err := s.cat.Using(ctx, sc, v)
	if err != nil {
		return nil, err
	}
	return versionToProto(v, true, using), nil
}

// CreateMappingVersion implements pb.MappingServiceServer.
func (s *MappingServer) CreateMappingVersion(ctx context.Context, req *pb.CreateMappingVersionRequest) (*pb.Mapping, error) {
	done, err := s.startCheck(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	sc, caller := scope(ctx)
	v, err := s.cat.Publish(ctx, sc, caller.KeyID, req.GetMapping(), []byte(req.GetSource()))
	var pe *catalog.PublishError
	if errors.As(err, &pe) {
		viol := make([]errs.FieldViolation, 0, len(pe.Problems))
		for _, p := range pe.Problems {
			viol = append(viol, errs.FieldViolation{Field: "source", Description: p.String()})
		}
		return nil, errs.Invalid(viol...)
	}
	if err != nil {
		return nil, checkError(err)
	}
	// The caller has the source it sent; the answer says what it became.
	return versionToProto(v, false, nil), nil
}

// notFound says a version is not there; to a platform key that named no tenant, it says which
// tenants have one of that number.
func (s *MappingServer) notFound(sc, tenant, name, version string) error {
	if sc == "" && tenant == "" {
		if tenants := s.cat.TenantsWith(name, version); len(tenants) > 0 {
			return errs.NotFound("there is no global version %s of %s; tenant(s) %s have their own: name one with tenant", version, name, strings.Join(tenants, ", "))
		}
	}
	return errs.NotFound("mapping %s version %s not found; ListMappings shows the versions you can see", name, version)
}

// DeprecateMappingVersion implements pb.MappingServiceServer.
func (s *MappingServer) DeprecateMappingVersion(ctx context.Context, req *pb.DeprecateMappingVersionRequest) (*pb.Mapping, error) {
	return s.mark(ctx, req.GetTenant(), req.GetName(), req.GetVersion(), false)
}

// DeleteMappingVersion implements pb.MappingServiceServer.
func (s *MappingServer) DeleteMappingVersion(ctx context.Context, req *pb.DeleteMappingVersionRequest) (*pb.Mapping, error) {
	return s.mark(ctx, req.GetTenant(), req.GetName(), req.GetVersion(), true)
}

// mark deprecates or deletes a version for the caller, and answers what it became.
func (s *MappingServer) mark(ctx context.Context, tenant, name, version string, del bool) (*pb.Mapping, error) {
	sc, _ := scope(ctx)
	if _, err := tenantParam(sc, tenant); err != nil {
		return nil, err
	}
	v, err := s.cat.Mark(ctx, sc, tenant, name, version, del)
	if errs.KindOf(err) == errs.KindNotFound {
		return nil, s.notFound(sc, tenant, name, version)
	}
	if err != nil {
		return nil, err
	}
	var using []string
	if !del {
		if using, err = s.cat.Using(ctx, sc, v); err != nil {
			return nil, err
		}
	}
	return versionToProto(v, false, using), nil
}

// ValidateMapping implements pb.MappingServiceServer.
func (s *MappingServer) ValidateMapping(ctx context.Context, req *pb.ValidateMappingRequest) (*pb.ValidateMappingResponse, error) {
	done, err := s.startCheck(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	m, err := mapping.CompileDraft("", []byte(req.GetSource()))
	if err != nil {
		var le *mapping.LoadError
		if errors.As(err, &le) {
			return &pb.ValidateMappingResponse{Valid: false, Problems: problemsToProto(le.Problems)}, nil
		}
		return nil, err
	}
	return &pb.ValidateMappingResponse{Valid: true, UntestedRules: m.Untested()}, nil
}

// resolve finds the mapping a request names: a version the caller can see, or a source compiled
// for the call.
func (s *MappingServer) resolve(ctx context.Context, ref *pb.MappingRef) (*mapping.Mapping, error) {
	name := ref.GetName()
	if name == "" {
		name = DefaultMappingName
	}
	if src := ref.GetSource(); src != "" {
		m, err := mapping.CompileDraft("", []byte(src))
		if err != nil {
			var le *mapping.LoadError
			if errors.As(err, &le) {
				v := make([]errs.FieldViolation, 0, len(le.Problems))
				for _, p := range le.Problems {
					v = append(v, errs.FieldViolation{Field: "mapping.source", Description: p.String()})
				}
				return nil, errs.Invalid(v...)
			}
			return nil, err
		}
		return m, nil
	}
	sc, _ := scope(ctx)
	v, ok := s.cat.Find(sc, "", name, ref.GetVersion())
	if !ok {
		return nil, errs.NotFound("mapping %s version %s not found; ListMappings shows the versions you can see", name, ref.GetVersion())
	}
	if !v.Usable() {
		return nil, errs.FailedPrecondition("mapping %s version %s does not load or fails its tests; GetMapping says why", name, ref.GetVersion())
	}
	return v.Mapping, nil
}

// TestMapping implements pb.MappingServiceServer.
func (s *MappingServer) TestMapping(ctx context.Context, req *pb.TestMappingRequest) (*pb.TestMappingResponse, error) {
	done, err := s.startCheck(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	m, err := s.resolve(ctx, req.GetMapping())
	if err != nil {
		return nil, err
	}
	results, err := m.TestContext(ctx)
	if err != nil {
		return nil, checkError(err)
	}
	out := &pb.TestMappingResponse{Passed: true, UntestedRules: m.Untested()}
	for _, r := range results {
		out.Passed = out.Passed && r.Passed
		out.Results = append(out.Results, &pb.MappingTestResult{Name: r.Name, Passed: r.Passed, Failures: r.Failures})
	}
	return out, nil
}

// PreviewMapping implements pb.MappingServiceServer.
func (s *MappingServer) PreviewMapping(ctx context.Context, req *pb.PreviewMappingRequest) (*pb.PreviewMappingResponse, error) {
	done, err := s.startCheck(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	m, err := s.resolve(ctx, req.GetMapping())
	if err != nil {
		return nil, err
	}
	if !json.Valid([]byte(req.GetInputJson())) {
		return nil, errs.InvalidField("input_json", "is not valid JSON")
	}
	payload, fields, err := m.PreviewContext(ctx, req.GetTarget(), []byte(req.GetInputJson()))
	switch {
	case mapping.IsLimit(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return nil, checkError(err)
	case err != nil:
		return nil, errs.InvalidField("input_json", "%v", err)
	}
	out := &pb.PreviewMappingResponse{PayloadJson: string(payload)}
	for _, f := range fields {
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", f.Field, err)
		}
		out.Fields = append(out.Fields, &pb.FieldExplanation{Field: f.Field, Rule: f.Rule, Line: int32(f.Line), ValueJson: string(v)})
	}
	return out, nil
}
