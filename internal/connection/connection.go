// Package connection holds the use-cases on connections: create, read, change, delete, pause.
// It knows nothing of gRPC or HTTP; the API handlers and the sync workers both call it.
package connection

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
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

// MappingVersions says which versions of the handy-bind mapping are in use (compiled, tested).
type MappingVersions interface {
	Has(version string) bool
	// Latest is the newest version in use, or "".
	Latest() string
}

// Service runs the connection use-cases.
type Service struct {
	store    store.Store
	keys     *secret.Keyring
	log      *slog.Logger
	mappings MappingVersions
}

// NewService returns a Service.
func NewService(s store.Store, keys *secret.Keyring, log *slog.Logger, mappings MappingVersions) *Service {
	return &Service{store: s, keys: keys, log: log, mappings: mappings}
}

// TokenAAD names where a sealed token belongs, so that it opens only in its own row and field.
func TokenAAD(connectionID, field string) string { return "connection/" + connectionID + "/" + field }

// Create stores a new connection in the draft state.
func (s *Service) Create(ctx context.Context, in Input) (*store.Connection, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("making connection id: %w", err)
	}
	c := &store.Connection{ID: id.String(), State: store.ConnectionDraft}
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
	s.log.InfoContext(ctx, "connection created", "connection_id", c.ID)
	return c, nil
}

// Get returns one connection.
func (s *Service) Get(ctx context.Context, id string) (*store.Connection, error) {
	return s.store.GetConnection(ctx, id)
}

// ListRequest selects a page of connections.
type ListRequest struct {
	PageSize  int32
	PageToken string
	State     store.ConnectionState
}

// List returns a page of connections in creation order and the token of the next page ("" on the last).
func (s *Service) List(ctx context.Context, req ListRequest) ([]*store.Connection, string, error) {
	filter := "state=" + string(req.State)
	after, err := page.Decode(req.PageToken, filter, "page_token")
	if err != nil {
		return nil, "", err
	}
	size := page.Size(req.PageSize, 50)
	cs, err := s.store.ListConnections(ctx, store.ConnectionFilter{State: req.State, AfterID: after, Limit: size + 1})
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

var mappingVersionPattern = regexp.MustCompile(`^v[1-9][0-9]{0,5}$`)

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
			c.HandyBaseURL = in.HandyBaseURL
			checkURL(f, in.HandyBaseURL, violate)
		case FieldHandyToken:
			c.HandyToken = seal(f, strings.TrimSpace(in.HandyToken))
		case FieldBindBaseURL:
			c.BindBaseURL = in.BindBaseURL
			checkURL(f, in.BindBaseURL, violate)
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
			c.MappingVersion = in.MappingVersion
			switch {
			case in.MappingVersion == "":
				violate(f, "is required: name a mapping version such as %s", s.mappings.Latest())
			case !mappingVersionPattern.MatchString(in.MappingVersion):
				violate(f, "%q is not a mapping version such as v1", in.MappingVersion)
			case !s.mappings.Has(in.MappingVersion):
				violate(f, "mapping version %s is not in use (missing, or it failed to load or its tests); the newest in use is %q", in.MappingVersion, s.mappings.Latest())
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

func checkURL(field, raw string, violate func(string, string, ...any)) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		violate(field, "must be an absolute http or https URL")
	}
}
