package api

import (
	"context"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/errs"
)

// MappingServer serves pb.MappingService. The mapping engine is not part of this build, so every
// call says so rather than answering with invented data.
type MappingServer struct {
	pb.UnimplementedMappingServiceServer
}

const mappingMissing = "the mapping engine (loading, validating, testing and previewing mapping files) is not part of this build yet"

// ListMappings implements pb.MappingServiceServer.
func (MappingServer) ListMappings(context.Context, *pb.ListMappingsRequest) (*pb.ListMappingsResponse, error) {
	return nil, errs.Unimplemented("listing mappings: %s", mappingMissing)
}

// GetMapping implements pb.MappingServiceServer.
func (MappingServer) GetMapping(context.Context, *pb.GetMappingRequest) (*pb.Mapping, error) {
	return nil, errs.Unimplemented("getting a mapping: %s", mappingMissing)
}

// ValidateMapping implements pb.MappingServiceServer.
func (MappingServer) ValidateMapping(context.Context, *pb.ValidateMappingRequest) (*pb.ValidateMappingResponse, error) {
	return nil, errs.Unimplemented("validating a mapping: %s", mappingMissing)
}

// TestMapping implements pb.MappingServiceServer.
func (MappingServer) TestMapping(context.Context, *pb.TestMappingRequest) (*pb.TestMappingResponse, error) {
	return nil, errs.Unimplemented("testing a mapping: %s", mappingMissing)
}

// PreviewMapping implements pb.MappingServiceServer.
func (MappingServer) PreviewMapping(context.Context, *pb.PreviewMappingRequest) (*pb.PreviewMappingResponse, error) {
	return nil, errs.Unimplemented("previewing a mapping: %s", mappingMissing)
}
