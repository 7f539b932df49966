package connection_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/errs"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/store/sqlstore"
	"github.com/handybind/handybind/internal/testdb"
)

func newService(t *testing.T) (*connection.Service, store.Store, *secret.Keyring) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, testdb.SQLite(t), nil)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	_, err = db.Migrate(ctx, nil)
	require.NoError(t, err)
	keys, err := secret.NewKeyring(secret.Key{ID: "k1", Bytes: bytes.Repeat([]byte{7}, secret.KeySize)})
	require.NoError(t, err)
	st := sqlstore.New(db)
	return connection.NewService(st, keys, slog.New(slog.DiscardHandler), versions{"v1": true, "v2": true}, nil), st, keys
}

// versions stands in for the mapping registry.
type versions map[string]bool

func (v versions) CheckPin(_, version string) error {
	if !v[version] {
		return fmt.Errorf("there is no version %s", version)
	}
	return nil
}
func (v versions) Latest() string { return "v2" }

func TestCreatePinsTheNewestMappingVersion(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t)
	c, err := svc.Create(context.Background(), "acme", connection.Input{DisplayName: "x"})
	require.NoError(t, err)
	require.Equal(t, "v2", c.MappingVersion)
	_, err = svc.Create(context.Background(), "acme", connection.Input{DisplayName: "x", MappingVersion: "v7"})
	require.ErrorContains(t, err, "there is no version v7")
	c, err = svc.Create(context.Background(), "acme", connection.Input{DisplayName: "x", MappingVersion: "v1"})
	require.NoError(t, err)
	require.Equal(t, "v1", c.MappingVersion)
}

func TestCreateNormalisesAndSeals(t *testing.T) {
	t.Parallel()
	svc, _, keys := newService(t)
	c, err := svc.Create(context.Background(), "acme", connection.Input{
		DisplayName: "  Norte  ", HandyToken: " tok ",
		Settings: store.Settings{Currency: " mxn ", PriceList: " General "},
	})
	require.NoError(t, err)
	require.Equal(t, "Norte", c.DisplayName)
	require.Equal(t, "MXN", c.Settings.Currency)
	require.Equal(t, "General", c.Settings.PriceList)
	require.Equal(t, connection.DefaultTimeZone, c.Settings.TimeZone)
	require.True(t, c.BindToken.IsZero(), "no token given, none stored")
	plain, err := keys.Open(c.HandyToken, connection.TokenAAD(c.ID, connection.FieldHandyToken))
	require.NoError(t, err)
	require.Equal(t, "tok", plain)
}

func TestCreateReportsEveryBadField(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t)
	_, err := svc.Create(context.Background(), "acme", connection.Input{
		HandyBaseURL: "hub.handy.la", Settings: store.Settings{TimeZone: "Local"}, MappingVersion: "latest",
	})
	var de *errs.Error
	require.ErrorAs(t, err, &de)
	fields := map[string]bool{}
	for _, v := range de.Violations {
		fields[v.Field] = true
	}
	require.Equal(t, map[string]bool{
		connection.FieldDisplayName: true, connection.FieldHandyBaseURL: true,
		connection.FieldTimeZone: true, connection.FieldMappingVersion: true,
	}, fields)
}

func TestActiveConnectionRefusesResolvedFieldsButTakesNewTokens(t *testing.T) {
	t.Parallel()
	svc, st, keys := newService(t)
	ctx := context.Background()
	c, err := svc.Create(ctx, "acme", connection.Input{DisplayName: "x", BindToken: "old"})
	require.NoError(t, err)
	_, err = st.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
		c.State = store.ConnectionActive
		return nil
	})
	require.NoError(t, err)

	_, err = svc.Update(ctx, c.ID, connection.Input{Settings: store.Settings{PriceList: "Mayoreo"}}, []string{connection.FieldPriceList})
	require.True(t, errs.Is(err, errs.KindFailedPrecondition), "%v", err)
	require.ErrorContains(t, err, "pause it before changing settings.price_list")

	// Rotating a token does not need a pause.
	u, err := svc.Update(ctx, c.ID, connection.Input{BindToken: "new"}, []string{connection.FieldBindToken})
	require.NoError(t, err)
	plain, err := keys.Open(u.BindToken, connection.TokenAAD(c.ID, connection.FieldBindToken))
	require.NoError(t, err)
	require.Equal(t, "new", plain)

	_, err = svc.Update(ctx, c.ID, connection.Input{}, []string{"settings.colour"})
	require.True(t, errs.Is(err, errs.KindInvalid))
	require.ErrorContains(t, err, `"settings.colour" is not a field that can be changed`)
}

func TestPause(t *testing.T) {
	t.Parallel()
	svc, st, _ := newService(t)
	ctx := context.Background()
	c, err := svc.Create(ctx, "acme", connection.Input{DisplayName: "x"})
	require.NoError(t, err)

	_, err = svc.Pause(ctx, c.ID)
	require.True(t, errs.Is(err, errs.KindFailedPrecondition), "a draft cannot be paused")

	_, err = st.UpdateConnection(ctx, c.ID, func(c *store.Connection) error {
		c.State = store.ConnectionActive
		return nil
	})
	require.NoError(t, err)
	p, err := svc.Pause(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, store.ConnectionPaused, p.State)
	again, err := svc.Pause(ctx, c.ID)
	require.NoError(t, err, "pausing twice is harmless")
	require.Equal(t, store.ConnectionPaused, again.State)
}

// allowList allows one host, as the egress policy does for the operator's list.
type allowList struct{ host string }

func (a allowList) CheckURL(raw string) error {
	if !strings.Contains(raw, "://"+a.host) {
		return errors.New("host is not allowed")
	}
	return nil
}

func TestChangedBaseURLDropsItsToken(t *testing.T) {
	t.Parallel()
	_, st, keys := newService(t)
	svc := connection.NewService(st, keys, slog.New(slog.DiscardHandler), versions{"v1": true, "v2": true}, allowList{"hub.example"})
	ctx := context.Background()
	c, err := svc.Create(ctx, "acme", connection.Input{DisplayName: "x", HandyBaseURL: "https://hub.example/api/v2",
		HandyToken: "handy-secret", BindToken: "bind-secret"})
	require.NoError(t, err)
	require.False(t, c.HandyToken.IsZero())

	// A host the operator did not allow is refused, naming the field.
	_, err = svc.Update(ctx, c.ID, connection.Input{BindBaseURL: "http://169.254.169.254"}, []string{connection.FieldBindBaseURL})
	require.True(t, errs.Is(err, errs.KindInvalid), "%v", err)
	require.ErrorContains(t, err, "bind.base_url: host is not allowed")

	// Moving Handy to another address without the token drops the stored token; Bind's stays.
	u, err := svc.Update(ctx, c.ID, connection.Input{HandyBaseURL: "https://hub.example/other"}, []string{connection.FieldHandyBaseURL})
	require.NoError(t, err)
	require.True(t, u.HandyToken.IsZero(), "the token must not follow the connection to a new address")
	require.False(t, u.BindToken.IsZero())

	// With the token in the same request, both change together.
	u, err = svc.Update(ctx, c.ID, connection.Input{HandyBaseURL: "https://hub.example/api/v2", HandyToken: "again"},
		[]string{connection.FieldHandyBaseURL, connection.FieldHandyToken})
	require.NoError(t, err)
	plain, err := keys.Open(u.HandyToken, connection.TokenAAD(c.ID, connection.FieldHandyToken))
	require.NoError(t, err)
	require.Equal(t, "again", plain)

	// Naming the same address again keeps the token.
	u, err = svc.Update(ctx, c.ID, connection.Input{HandyBaseURL: "https://hub.example/api/v2"}, []string{connection.FieldHandyBaseURL})
	require.NoError(t, err)
	require.False(t, u.HandyToken.IsZero())

	_, err = svc.Create(ctx, "", connection.Input{DisplayName: "x"})
	require.True(t, errs.Is(err, errs.KindInvalid), "a connection needs a tenant")
}
