package auth

import (
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
		Resource: func(req, _ any) string { id, _ := byUpdatedConnection(req); return connectionResource(id) }},
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

	pb.AuditService_ListAuditEvents_FullMethodName: {Roles: platform},
}
