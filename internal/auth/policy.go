package auth

import (
	"regexp"
	"slices"

	"github.com/google/uuid"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/store"
)

// Target says which tenant-owned record a request names, so that the interceptor can confine the
// caller to its tenant before any handler runs.
type Target int

// The targets.
const (
	// NoTarget: the request names no tenant-owned record (lists are scoped by the handler).
	NoTarget Target = iota
	// ConnectionTarget: the request names a connection.
	ConnectionTarget
	// RunTarget: the request names a run (and so its connection).
	RunTarget
)

// Rule is who may call one method and what it touches.
type Rule struct {
	Roles []store.Role
	// Target and ID say which record the request names; ID returns its id and the request field
	// that holds it.
	Target Target
	ID     func(req any) (id, field string)
	// Audit records every call in the audit log: it changes something.
	Audit bool
	// Resource names what changed for the audit log; it sees the response to name new records.
	Resource func(req, resp any) string
}

var (
	managers = []store.Role{store.RolePlatform, store.RolePartner}
	readers  = []store.Role{store.RolePlatform, store.RolePartner, store.RoleIntegrator}
	platform = []store.Role{store.RolePlatform}
)

type idGetter interface{ GetId() string }
type connIDGetter interface{ GetConnectionId() string }
type runIDGetter interface{ GetRunId() string }

func byID(req any) (string, string) {
	if r, ok := req.(idGetter); ok {
		return r.GetId(), "id"
	}
	return "", "id"
}

func byConnectionID(req any) (string, string) {
	if r, ok := req.(connIDGetter); ok {
		return r.GetConnectionId(), "connection_id"
	}
	return "", "connection_id"
}

func byRunID(req any) (string, string) {
	if r, ok := req.(runIDGetter); ok {
		return r.GetRunId(), "run_id"
	}
	return "", "run_id"
}

func byUpdatedConnection(req any) (string, string) {
	if r, ok := req.(*pb.UpdateConnectionRequest); ok {
		return r.GetConnection().GetId(), "connection.id"
	}
	return "", "connection.id"
}

// connectionResource names a connection for the audit log; an id that is not a UUID (the call was
// refused) is not copied, so a caller cannot write what it likes into the log.
func connectionResource(id string) string {
	if u, err := uuid.Parse(id); err == nil {
		return "connections/" + u.String()
	}
	return "connections/(invalid id)"
}

var (
	versionPattern = regexp.MustCompile(`^v[1-9][0-9]{0,5}$`)
	namePattern    = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
)

// mappingResource names a mapping version for the audit log; names and versions that are not
// well formed (the call was refused) are not copied.
func mappingResource(name, version string) string {
	if !namePattern.MatchString(name) {
		return "mappings/(invalid name)"
	}
	if version == "" {
		return "mappings/" + name + "/versions"
	}
	if !versionPattern.MatchString(version) {
		return "mappings/" + name + "/versions/(invalid version)"
	}
	return "mappings/" + name + "/versions/" + version
}

// Policy is every method of the API and who may call it. A method missing here is refused to
// everyone, so that a new RPC cannot be served unguarded (a test walks every registered method).
var Policy = map[string]Rule{
	pb.ConnectionService_CreateConnection_FullMethodName: {Roles: managers, Audit: true,
		Resource: func(_, resp any) string {
			if c, ok := resp.(*pb.Connection); ok {
				return connectionResource(c.GetId())
			}
			return "connections"
		}},
	// Integrators read connections (never tokens) to find the runs whose records they debug.
	pb.ConnectionService_GetConnection_FullMethodName:   {Roles: readers, Target: ConnectionTarget, ID: byID},
	pb.ConnectionService_ListConnections_FullMethodName: {Roles: readers},
	pb.ConnectionService_UpdateConnection_FullMethodName: {Roles: managers, Target: ConnectionTarget, ID: byUpdatedConnection, Audit: true,
		Resource: func(req, _ any) string {
			id, _ := byUpdatedConnection(req)
			// Moving a connection to another mapping version is named, with the version.
			if r, ok := req.(*pb.UpdateConnectionRequest); ok && (slices.Contains(r.GetUpdateMask().GetPaths(), "mapping_version") || slices.Contains(r.GetUpdateMask().GetPaths(), "mappingVersion")) {
				if v := r.GetConnection().GetMappingVersion(); versionPattern.MatchString(v) {
					return connectionResource(id) + "/mapping_version/" + v
				}
			}
			return connectionResource(id)
		}},
	pb.ConnectionService_DeleteConnection_FullMethodName: {Roles: managers, Target: ConnectionTarget, ID: byID, Audit: true,
		Resource: func(req, _ any) string { id, _ := byID(req); return connectionResource(id) }},
	pb.ConnectionService_ActivateConnection_FullMethodName: {Roles: managers, Target: ConnectionTarget, ID: byID, Audit: true,
		Resource: func(req, _ any) string { id, _ := byID(req); return connectionResource(id) }},
	pb.ConnectionService_PauseConnection_FullMethodName: {Roles: managers, Target: ConnectionTarget, ID: byID, Audit: true,
		Resource: func(req, _ any) string { id, _ := byID(req); return connectionResource(id) }},

	pb.RunService_TriggerSync_FullMethodName: {Roles: managers, Target: ConnectionTarget, ID: byConnectionID, Audit: true,
		Resource: func(req, resp any) string {
			id, _ := byConnectionID(req)
			if r, ok := resp.(*pb.Run); ok && r.GetId() != "" {
				return connectionResource(id) + "/runs/" + r.GetId()
			}
			return connectionResource(id) + "/runs"
		}},
	pb.RunService_GetRun_FullMethodName:       {Roles: readers, Target: RunTarget, ID: byID},
	pb.RunService_ListRuns_FullMethodName:     {Roles: readers, Target: ConnectionTarget, ID: byConnectionID},
	pb.RunService_ListRunItems_FullMethodName: {Roles: readers, Target: RunTarget, ID: byRunID},

	pb.MappingService_ListMappings_FullMethodName:    {Roles: readers},
	pb.MappingService_GetMapping_FullMethodName:      {Roles: readers},
	pb.MappingService_ValidateMapping_FullMethodName: {Roles: readers},
	pb.MappingService_TestMapping_FullMethodName:     {Roles: readers},
	pb.MappingService_PreviewMapping_FullMethodName:  {Roles: readers},
	// Publishing is the integrator's work (and a partner's); a platform key publishes globally.
	pb.MappingService_CreateMappingVersion_FullMethodName: {Roles: readers, Audit: true,
		Resource: func(req, resp any) string {
			if m, ok := resp.(*pb.Mapping); ok && m.GetVersion() != "" {
				return mappingResource(m.GetName(), m.GetVersion())
			}
			if r, ok := req.(*pb.CreateMappingVersionRequest); ok {
				return mappingResource(r.GetMapping(), "")
			}
			return "mappings"
		}},
	pb.MappingService_DeprecateMappingVersion_FullMethodName: {Roles: readers, Audit: true,
		Resource: func(req, _ any) string {
			r, _ := req.(*pb.DeprecateMappingVersionRequest)
			return mappingResource(r.GetName(), r.GetVersion())
		}},
	pb.MappingService_DeleteMappingVersion_FullMethodName: {Roles: readers, Audit: true,
		Resource: func(req, _ any) string {
			r, _ := req.(*pb.DeleteMappingVersionRequest)
			return mappingResource(r.GetName(), r.GetVersion())
		}},
	// The dry run reads the connection's sales again from Handy and writes nothing.
	pb.ConnectionService_CompareMapping_FullMethodName: {Roles: readers, Target: ConnectionTarget, ID: byID},

	pb.AuditService_ListAuditEvents_FullMethodName: {Roles: platform},
}
