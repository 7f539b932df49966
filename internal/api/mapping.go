package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	pb "github.com/handybind/handybind/gen/handybind/v1"
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

// MappingServer serves pb.MappingService. Nothing it does writes anywhere.
type MappingServer struct {
	pb.UnimplementedMappingServiceServer
	reg    *mapping.Registry
	checks chan struct{} // a slot per check running
	wait   time.Duration
}

// NewMappingServer returns a MappingServer over the loaded mappings.
func NewMappingServer(reg *mapping.Registry) *MappingServer {
	return &MappingServer{reg: reg, checks: make(chan struct{}, mappingChecks), wait: mappingCheckWait}
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

func statusToProto(f mapping.FileStatus, m *mapping.Mapping, withSource bool) *pb.Mapping {
	out := &pb.Mapping{Name: f.Name, Version: f.Version, Checksum: f.Checksum, Active: f.Active, Problems: problemsToProto(f.Problems)}
	for _, t := range f.Failures {
		out.Problems = append(out.Problems, &pb.MappingProblem{Line: int32(t.Line), Message: "test " + t.Name + " failed: " + strings.Join(t.Failures, "; ")})
	}
	if m != nil {
		out.Name, out.Version, out.Description, out.Checksum = m.Name, m.Version, m.Description, m.Checksum
		if withSource {
			out.Source = string(m.Source)
		}
	}
	if out.Name == "" {
		out.Version = f.Path // a file that never loaded is known by its path
	}
	return out
}

// ListMappings implements pb.MappingServiceServer.
func (s *MappingServer) ListMappings(context.Context, *pb.ListMappingsRequest) (*pb.ListMappingsResponse, error) {
	out := &pb.ListMappingsResponse{}
	for _, f := range s.reg.Files() {
		m, _ := s.reg.Get(f.Name, f.Version)
		out.Mappings = append(out.Mappings, statusToProto(f, m, false))
	}
	return out, nil
}

// GetMapping implements pb.MappingServiceServer.
func (s *MappingServer) GetMapping(_ context.Context, req *pb.GetMappingRequest) (*pb.Mapping, error) {
	for _, f := range s.reg.Files() {
		if f.Name == req.GetName() && f.Version == req.GetVersion() {
			m, _ := s.reg.Get(f.Name, f.Version)
			return statusToProto(f, m, true), nil
		}
	}
	return nil, errs.NotFound("mapping %s version %s not found; ListMappings shows the loaded ones", req.GetName(), req.GetVersion())
}

// ValidateMapping implements pb.MappingServiceServer.
func (s *MappingServer) ValidateMapping(ctx context.Context, req *pb.ValidateMappingRequest) (*pb.ValidateMappingResponse, error) {
	done, err := s.startCheck(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	m, err := mapping.Compile("", []byte(req.GetSource()))
	if err != nil {
		var le *mapping.LoadError
		if errors.As(err, &le) {
			return &pb.ValidateMappingResponse{Valid: false, Problems: problemsToProto(le.Problems)}, nil
		}
		return nil, err
	}
	return &pb.ValidateMappingResponse{Valid: true, UntestedRules: m.Untested()}, nil
}

// resolve finds the mapping a request names: a loaded version, or a source compiled for the call.
func (s *MappingServer) resolve(ref *pb.MappingRef) (*mapping.Mapping, error) {
	name := ref.GetName()
	if name == "" {
		name = DefaultMappingName
	}
	if src := ref.GetSource(); src != "" {
		m, err := mapping.Compile("", []byte(src))
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
	m, ok := s.reg.Get(name, ref.GetVersion())
	if !ok {
		return nil, errs.NotFound("mapping %s version %s is not loaded, or did not pass its tests; ListMappings says why", name, ref.GetVersion())
	}
	return m, nil
}

// TestMapping implements pb.MappingServiceServer.
func (s *MappingServer) TestMapping(ctx context.Context, req *pb.TestMappingRequest) (*pb.TestMappingResponse, error) {
	done, err := s.startCheck(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	m, err := s.resolve(req.GetMapping())
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
	m, err := s.resolve(req.GetMapping())
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
