package auth

import (
	"context"

	"github.com/handybind/handybind/internal/store"
)

// Caller is who made a call, as its API key says.
type Caller struct {
	KeyID  string
	Name   string
	Role   store.Role
	Tenant string // empty for platform keys, which reach every tenant
}

// noTenant is the scope of a caller that should never exist (no caller, or a tenant key without a
// tenant): no tenant is spelled like it, so it matches nothing rather than everything.
const noTenant = "-"

// Scope is the tenant the caller is confined to, or "" when it reaches every tenant (platform).
func (c *Caller) Scope() string {
	switch {
	case c != nil && c.Role == store.RolePlatform:
		return ""
	case c == nil || c.Tenant == "":
		return noTenant
	}
	return c.Tenant
}

type callerKey struct{}

// WithCaller returns ctx carrying c.
func WithCaller(ctx context.Context, c *Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// FromContext returns the caller the interceptor put in ctx. Handlers behind the interceptor
// always have one; ok is false only outside it.
func FromContext(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok && c != nil
}

// Note lets an interceptor outside authentication learn who called, for its log line.
type Note struct{ KeyID string }

type noteKey struct{}

// WithNote returns ctx with an empty Note that the guard fills in once it knows the caller.
func WithNote(ctx context.Context) (context.Context, *Note) {
	n := &Note{}
	return context.WithValue(ctx, noteKey{}, n), n
}

// NoteOf returns the call's note, or nil when the call has none.
func NoteOf(ctx context.Context) *Note {
	n, _ := ctx.Value(noteKey{}).(*Note)
	return n
}

func noteCaller(ctx context.Context, c *Caller) {
	if n, ok := ctx.Value(noteKey{}).(*Note); ok {
		n.KeyID = c.KeyID
	}
}

// Bearer sends an API key with every gRPC call, for clients of this API (the demo, tests, the
// command line). It does not insist on TLS, so that loopback calls work without certificates.
type Bearer string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b Bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (Bearer) RequireTransportSecurity() bool { return false }
