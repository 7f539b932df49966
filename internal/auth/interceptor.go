package auth

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/store"
)

// ForwardedCertHeader carries the common name of a client certificate that the REST listener
// verified. It is honoured only on the gateway's in-process connection (see GatewayAddr), never
// from the network, and the gateway never forwards it from an HTTP request.
const ForwardedCertHeader = "x-handybind-client-cert-cn"

// GatewayAddr is the address of the gateway's in-process connection to the gRPC server. A call
// whose peer has this address type comes from the REST listener of this very process.
type GatewayAddr struct{}

// Network implements net.Addr.
func (GatewayAddr) Network() string { return "handybind-gateway" }

// String implements net.Addr.
func (GatewayAddr) String() string { return "gateway" }

// Tenants says which tenant owns a record. A missing record is a not-found error.
type Tenants interface {
	ConnectionTenant(ctx context.Context, id string) (string, error)
	RunTenant(ctx context.Context, id string) (string, error)
}

// Auditor keeps the audit log.
type Auditor interface {
	AppendAudit(ctx context.Context, e *store.AuditEvent) error
}

// Guard enforces the Policy for every call.
type Guard struct {
	Auth    *Authenticator
	Tenants Tenants
	Audit   Auditor
	Log     *slog.Logger
	// ToStatus turns a domain error into the gRPC status callers see, as the rest of the chain does.
	ToStatus func(ctx context.Context, err error) error
	// Public lists method prefixes served without a key (the health service).
	Public []string
}

// NewGuard returns a Guard.
func NewGuard(a *Authenticator, t Tenants, au Auditor, log *slog.Logger, toStatus func(context.Context, error) error) *Guard {
	return &Guard{Auth: a, Tenants: t, Audit: au, Log: log, ToStatus: toStatus, Public: []string{"/grpc.health.v1.Health/"}}
}

func (g *Guard) public(method string) bool {
	for _, p := range g.Public {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return false
}

// Unary authenticates the caller and checks its role against the Policy, runs the rest of the
// chain with the caller in the context, and records changes in the audit log. It sits before
// validation, so that a caller without a key learns nothing about the request's shape.
func (g *Guard) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if g.public(info.FullMethod) {
			return handler(ctx, req)
		}
		caller, err := g.authenticate(ctx)
		if err != nil {
			return nil, g.ToStatus(ctx, err)
		}
		ctx = WithCaller(ctx, caller)
		noteCaller(ctx, caller)
		rule, ok := Policy[info.FullMethod]
		if !ok {
			g.Log.ErrorContext(ctx, "method has no access rule; refused", "method", info.FullMethod)
			return nil, g.ToStatus(ctx, errs.PermissionDenied("%s has no access rule", info.FullMethod))
		}
		target := &resolved{tenant: caller.Scope()}
		ctx = context.WithValue(ctx, resolvedKey{}, target)
		var resp any
		if err = g.ToStatus(ctx, checkRole(caller, rule, info.FullMethod)); err == nil {
			resp, err = handler(ctx, req)
		}
		// Refused changes are evidence too: someone tried (a refused base URL may be a probe).
		if rule.Audit {
			if c, ok := resp.(interface{ GetTenant() string }); ok && c.GetTenant() != "" {
				target.tenant = c.GetTenant() // a created connection's tenant, for platform keys too
			}
			resource := ""
			if rule.Resource != nil {
				resource = rule.Resource(req, resp)
			}
			g.record(ctx, caller, target.tenant, info.FullMethod, resource, err)
		}
		return resp, err
	}
}

// Scope confines the caller to its tenant: a record of another tenant is not found, exactly as a
// record that does not exist. It sits after validation, so the ids it reads are well formed.
func (g *Guard) Scope() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if g.public(info.FullMethod) {
			return handler(ctx, req)
		}
		caller, ok := FromContext(ctx)
		rule, known := Policy[info.FullMethod]
		if !ok || !known {
			// Unreachable behind Unary; refuse rather than trust a chain built wrongly.
			return nil, g.ToStatus(ctx, errs.PermissionDenied("%s: no authenticated caller", info.FullMethod))
		}
		if err := g.scope(ctx, caller, rule, req); err != nil {
			return nil, g.ToStatus(ctx, err)
		}
		return handler(ctx, req)
	}
}

type resolvedKey struct{}

// resolved carries the tenant of the record a call named from Scope back to Unary's audit record.
type resolved struct{ tenant string }

// Stream guards streaming methods: only server reflection streams, and any valid key may use it.
func (g *Guard) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if g.public(info.FullMethod) {
			return handler(srv, ss)
		}
		caller, err := g.authenticate(ss.Context())
		if err != nil {
			return g.ToStatus(ss.Context(), err)
		}
		if !strings.HasPrefix(info.FullMethod, "/grpc.reflection.") {
			g.Log.ErrorContext(ss.Context(), "stream method has no access rule; refused", "method", info.FullMethod)
			return g.ToStatus(ss.Context(), errs.PermissionDenied("%s has no access rule", info.FullMethod))
		}
		return handler(srv, &callerStream{ServerStream: ss, ctx: WithCaller(ss.Context(), caller)})
	}
}

type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *callerStream) Context() context.Context { return s.ctx }

// authenticate finds the caller: a bearer key first, then a verified client certificate (on this
// listener, or forwarded by the in-process gateway).
func (g *Guard) authenticate(ctx context.Context) (*Caller, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if vals := md.Get("authorization"); len(vals) > 0 {
		scheme, key, ok := strings.Cut(vals[0], " ")
		if !ok || !strings.EqualFold(scheme, "bearer") {
			return nil, errs.Unauthenticated("the authorization header must be \"Bearer <API key>\"")
		}
		return g.Auth.ByKey(ctx, key)
	}
	if p, ok := peer.FromContext(ctx); ok {
		if tlsInfo, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(tlsInfo.State.VerifiedChains) > 0 {
			return g.Auth.ByCertCN(ctx, tlsInfo.State.VerifiedChains[0][0].Subject.CommonName)
		}
		if _, fromGateway := p.Addr.(GatewayAddr); fromGateway {
			if cn := md.Get(ForwardedCertHeader); len(cn) == 1 {
				return g.Auth.ByCertCN(ctx, cn[0])
			}
		}
	}
	return nil, errs.Unauthenticated("no API key: send \"Authorization: Bearer <key>\" (REST) or the authorization metadata (gRPC); an operator makes keys with `handybind keys create`")
}

func checkRole(c *Caller, rule Rule, method string) error {
	if slices.Contains(rule.Roles, c.Role) {
		return nil
	}
	names := make([]string, len(rule.Roles))
	for i, r := range rule.Roles {
		names[i] = string(r)
	}
	return errs.PermissionDenied("%s key may not call %s; it needs %s key", article(string(c.Role)), method[strings.LastIndexByte(method, '/')+1:], article(strings.Join(names, " or ")))
}

func (g *Guard) scope(ctx context.Context, c *Caller, rule Rule, req any) error {
	if rule.Target == NoTarget {
		return nil
	}
	id, field := rule.ID(req)
	if _, err := uuid.Parse(id); err != nil {
		// Validation refuses these first; should a rule ever miss one, it still names no record.
		return errs.InvalidField(field, "must be a UUID")
	}
	var tenant, what string
	var err error
	switch rule.Target {
	case ConnectionTarget:
		what = "connection " + id
		tenant, err = g.Tenants.ConnectionTenant(ctx, id)
	case RunTarget:
		what = "run " + id
		tenant, err = g.Tenants.RunTenant(ctx, id)
	}
	if err != nil {
		return err
	}
	if scope := c.Scope(); scope != "" && scope != tenant {
		return errs.NotFound("%s not found", what)
	}
	if r, ok := ctx.Value(resolvedKey{}).(*resolved); ok {
		r.tenant = tenant
	}
	return nil
}

func (g *Guard) record(ctx context.Context, c *Caller, tenant, method, resource string, err error) {
	id, uerr := uuid.NewV7()
	if uerr != nil {
		g.Log.ErrorContext(ctx, "audit event id", "error", uerr)
		return
	}
	outcome := code.Code(status.Code(err)).String() // "OK", "NOT_FOUND", …
	e := &store.AuditEvent{ID: id.String(), KeyID: c.KeyID, Role: c.Role, Tenant: tenant, Method: method, Resource: resource, Outcome: outcome}
	// The change has happened whether or not its record can be kept; a lost record is an error
	// the operator must see, not a reason to report the change as failed.
	if aerr := g.Audit.AppendAudit(context.WithoutCancel(ctx), e); aerr != nil {
		g.Log.ErrorContext(ctx, "audit event not recorded", "error", aerr, "method", method, "resource", resource, "key_id", c.KeyID)
	}
}

// article puts "a" or "an" before a role name.
func article(word string) string {
	if strings.IndexAny(word[:1], "aeiou") == 0 {
		return "an " + word
	}
	return "a " + word
}
