// Package connection holds the use-cases on connections: create, read, change, delete, pause.
// It knows nothing of gRPC or HTTP; the API handlers and the sync workers both call it.
package connection

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	// Time zones must resolve the same on every machine, whatever tzdata it has.
	_ "time/tzdata"

	"github.com/google/uuid"

	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/page"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
)

// DefaultTimeZone is the Handy account's zone when the connection names none.
const DefaultTimeZone = "America/Mexico_City"

// Fields that can be changed with Update, by their API path.
const (
	FieldDisplayName    = "display_name"
	FieldHandyBaseURL   = "handy.base_url"
	FieldHandyToken     = "handy.token"
	FieldBindBaseURL    = "bind.base_url"
	FieldBindUserName   = "bind.user_name"
	FieldBindToken      = "bind.token"
	FieldPriceList      = "settings.price_list"
	FieldCurrency       = "settings.currency"
	FieldWarehouse      = "settings.warehouse"
	FieldLedgerAccount  = "settings.ledger_account"
	FieldTimeZone       = "settings.time_zone"
	FieldMappingVersion = "mapping_version"
)

// Input is what a caller may set on a connection; tokens arrive in plain text and are sealed
// before anything is stored.
type Input struct {
	DisplayName    string
	HandyBaseURL   string
	HandyToken     string
	BindBaseURL    string
	BindUserName   string
	BindToken      string
	Settings       store.Settings
	MappingVersion string
}

// MappingVersions says which versions of the handy-bind mapping a connection may be pinned to.
type MappingVersions interface {
	// CheckPin says why a connection of tenant cannot use version (not visible to the tenant,
	// not loading or deprecated), or nil.
	CheckPin(tenant, version string) error
	// Latest is the newest global version in use, or "".
	Latest() string
}

// URLPolicy says whether a base URL may be called: only hosts the operator allowed.
type URLPolicy interface {
	CheckURL(raw string) error
}

// Service runs the connection use-cases.
type Service struct {
	store    store.Store
	keys     *secret.Keyring
	log      *slog.Logger
	mappings MappingVersions
	urls     URLPolicy
}

// NewService returns a Service.
func NewService(s store.Store, keys *secret.Keyring, log *slog.Logger, mappings MappingVersions, urls URLPolicy) *Service {
	return &Service{store: s, keys: keys, log: log, mappings: mappings, urls: urls}
}

// TokenAAD names where a sealed token belongs, so that it opens only in its own row and field.
func TokenAAD(connectionID, field string) string { return "connection/" + connectionID + "/" + field }

// Create stores a new connection of tenant in the draft state.
func (s *Service) Create(ctx context.Context, tenant string, in Input) (*store.Connection, error) {
	if !store.TenantPattern.MatchString(tenant) {
		return nil, errs.InvalidField("tenant", "is required: the Handy company the connection belongs to, such as acme (lower-case letters, digits, '.', '_' or '-')")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("making connection id: %w", err)
	}
	c := &store.Connection{ID: id.String(), Tenant: tenant, State: store.ConnectionDraft}
	if in.MappingVersion == "" {
		// A connection is pinned to a version from the start, so a new version never changes
		// what an existing connection sends until someone moves it.
		in.MappingVersion = s.mappings.Latest()
	}
	if err := s.apply(c, in, allFields); err != nil {
		return nil, err
	}
	if err := s.store.CreateConnection(ctx, c); err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "connection created", "connection_id", c.ID, "tenant", c.Tenant)
	return c, nil
}

// Get returns one connection.
func (s *Service) Get(ctx context.Context, id string) (*store.Connection, error) {
	return s.store.GetConnection(ctx, id)
}

// ListRequest selects a page of connections.
type ListRequest struct {
	Tenant    string // empty: every tenant
	PageSize  int32
	PageToken string
	State     store.ConnectionState
}

// List returns a page of connections in creation order and the token of the next page ("" on the last).
func (s *Service) List(ctx context.Context, req ListRequest) ([]*store.Connection, string, error) {
	filter := "state=" + string(req.State) + "&tenant=" + req.Tenant
	after, err := page.Decode(req.PageToken, filter, "page_token")
	if err != nil {
		return nil, "", err
	}
	size := page.Size(req.PageSize, 50)
	cs, err := s.store.ListConnections(ctx, store.ConnectionFilter{Tenant: req.Tenant, State: req.State, AfterID: after, Limit: size + 1})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(cs) > size {
		cs = cs[:size]
		next = page.Encode(cs[size-1].ID, filter)
	}
	return cs, next, nil
}

// Fields that decide which accounts and Bind records an active connection syncs: it must be
// paused before they change, so that a sync never runs with names it has not resolved.
var resolvedFields = map[string]bool{
	FieldBindBaseURL: true, FieldBindUserName: true, FieldPriceList: true, FieldCurrency: true,
	FieldWarehouse: true, FieldLedgerAccount: true, FieldHandyBaseURL: true,
}

var allFields = []string{
	FieldDisplayName, FieldHandyBaseURL, FieldHandyToken, FieldBindBaseURL, FieldBindUserName,
	FieldBindToken, FieldPriceList, FieldCurrency, FieldWarehouse, FieldLedgerAccount, FieldTimeZone,
	FieldMappingVersion,
}

// Update changes the named fields of a connection to their values in in. fields are API paths
// (see the Field constants); an unknown one is an invalid-argument error naming it.
func (s *Service) Update(ctx context.Context, id string, in Input, fields []string) (*store.Connection, error) {
	c, err := s.store.UpdateConnection(ctx, id, func(c *store.Connection) error {
		if c.State == store.ConnectionActive {
			var blocked []string
			for _, f := range fields {
				if resolvedFields[f] {
					blocked = append(blocked, f)
				}
			}
			if len(blocked) > 0 {
				return errs.FailedPrecondition("connection %s is active; pause it before changing %s, then activate it again so the new values are resolved in Bind",
					id, strings.Join(blocked, ", "))
			}
		}
		return s.apply(c, in, fields)
	})
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "connection updated", "connection_id", id, "fields", fields)
	return c, nil
}

// Delete removes a connection and its history.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.store.DeleteConnection(ctx, id); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "connection deleted", "connection_id", id)
	return nil
}

// Pause stops scheduled syncs of an active connection. Pausing a paused connection changes nothing.
func (s *Service) Pause(ctx context.Context, id string) (*store.Connection, error) {
	return s.store.UpdateConnection(ctx, id, func(c *store.Connection) error {
		switch c.State {
		case store.ConnectionPaused:
			return nil
		case store.ConnectionActive, store.ConnectionError:
			c.State = store.ConnectionPaused
			c.StateReason = ""
			return nil
		}
		return errs.FailedPrecondition("connection %s is %s; only an active connection can be paused", id, c.State)
	})
}

var (
	mappingVersionPattern = regexp.MustCompile(`^v[1-9][0-9]{0,5}$`)
)

// apply validates and copies the given fields from in to c, sealing tokens. Every problem is
// reported at once.
func (s *Service) apply(c *store.Connection, in Input, fields []string) error {
	var bad []errs.FieldViolation
	violate := func(field, format string, args ...any) {
		bad = append(bad, errs.FieldViolation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
	seal := func(field, plain string) secret.Sealed {
		sealed, err := s.keys.Seal(plain, TokenAAD(c.ID, field))
		if err != nil {
			violate(field, "could not be encrypted")
		}
		return sealed
	}
	for _, f := range fields {
		switch f {
		case FieldDisplayName:
			c.DisplayName = strings.TrimSpace(in.DisplayName)
			if c.DisplayName == "" {
				violate(f, "is required")
			}
		case FieldHandyBaseURL:
			// A token goes only to the host it was entered for: a new address drops it, and the
			// same request must carry it again (handy.token) before the connection can activate.
			if in.HandyBaseURL != c.HandyBaseURL && !slices.Contains(fields, FieldHandyToken) {
				c.HandyToken = secret.Sealed{}
			}
			c.HandyBaseURL = in.HandyBaseURL
			s.checkURL(f, in.HandyBaseURL, violate)
		case FieldHandyToken:
			c.HandyToken = seal(f, strings.TrimSpace(in.HandyToken))
		case FieldBindBaseURL:
			if in.BindBaseURL != c.BindBaseURL && !slices.Contains(fields, FieldBindToken) {
				c.BindToken = secret.Sealed{}
			}
			c.BindBaseURL = in.BindBaseURL
			s.checkURL(f, in.BindBaseURL, violate)
		case FieldBindUserName:
			c.BindUserName = strings.TrimSpace(in.BindUserName)
		case FieldBindToken:
			c.BindToken = seal(f, strings.TrimSpace(in.BindToken))
		case FieldPriceList:
			c.Settings.PriceList = strings.TrimSpace(in.Settings.PriceList)
		case FieldCurrency:
			c.Settings.Currency = strings.ToUpper(strings.TrimSpace(in.Settings.Currency))
		case FieldWarehouse:
			c.Settings.Warehouse = strings.TrimSpace(in.Settings.Warehouse)
		case FieldLedgerAccount:
			c.Settings.LedgerAccount = strings.TrimSpace(in.Settings.LedgerAccount)
		case FieldTimeZone:
			tz := strings.TrimSpace(in.Settings.TimeZone)
			if tz == "" {
				tz = DefaultTimeZone
			}
			if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
				violate(f, "%q is not an IANA time zone such as America/Mexico_City", tz)
			}
			c.Settings.TimeZone = tz
		case FieldMappingVersion:
			prev := c.MappingVersion
			c.MappingVersion = in.MappingVersion
			switch {
			case in.MappingVersion == "":
				violate(f, "is required: name a mapping version such as %s", s.mappings.Latest())
			case !mappingVersionPattern.MatchString(in.MappingVersion):
				violate(f, "%q is not a mapping version such as v1", in.MappingVersion)
			case in.MappingVersion == prev:
				// Unchanged: a connection keeps its version even once it is deprecated.
			default:
				if err := s.mappings.CheckPin(c.Tenant, in.MappingVersion); err != nil {
					violate(f, "%v", err)
				}
			}
		default:
			violate("update_mask", "%q is not a field that can be changed; use one of %s", f, strings.Join(allFields, ", "))
		}
	}
	if len(bad) > 0 {
		return errs.Invalid(bad...)
	}
	return nil
}

// checkURL refuses a base URL that is malformed or whose host the operator has not allowed; an
// empty one means the public API, which is always allowed.
func (s *Service) checkURL(field, raw string, violate func(string, string, ...any)) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		violate(field, "must be an absolute http or https URL")
		return
	}
	if s.urls != nil {
		if err := s.urls.CheckURL(raw); err != nil {
			violate(field, "%s", err.Error())
		}
	}
}
