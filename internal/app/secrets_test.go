package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/connection"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store/sqlstore"
)

// TestTokensNeverLeak sends tokens through every connection call, over both protocols, and checks
// that no response, error message or log line carries one, and that the database holds only
// ciphertext that opens to the token with the configured key.
func TestTokensNeverLeak(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		cfg := testConfig(t, dbURL)
		h := startServer(t, cfg)
		ctx := context.Background()
		const (
			handyTok  = "HANDY-TOKEN-7f3a9c"
			bindTok   = "eyJhbGciOiJIUzI1NiJ9.BIND-TOKEN-91bd"
			bindTok2  = "eyJhbGciOiJIUzI1NiJ9.BIND-TOKEN-ROTATED-55e0"
			handyTok2 = "HANDY-TOKEN-ROTATED-c1c1"
		)
		secrets := []string{handyTok, bindTok, bindTok2, handyTok2}
		var seen []string // every response and error text a caller got
		seeProto := func(m proto.Message, err error) {
			if err != nil {
				seen = append(seen, status.Convert(err).Message(), fmt.Sprint(status.Convert(err).Details()))
				return
			}
			seen = append(seen, protojson.Format(m))
		}

		created, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{
			DisplayName: "Leak check",
			Handy:       &pb.HandyCredentials{Token: handyTok},
			Bind:        &pb.BindCredentials{Token: bindTok, UserName: "admin"},
		}})
		seeProto(created, err)
		require.NoError(t, err)
		id := created.GetId()

		seeProto(h.connections.GetConnection(ctx, &pb.GetConnectionRequest{Id: id}))
		seeProto(h.connections.ListConnections(ctx, &pb.ListConnectionsRequest{}))
		seeProto(h.connections.UpdateConnection(ctx, &pb.UpdateConnectionRequest{
			Connection: &pb.Connection{Id: id, Bind: &pb.BindCredentials{Token: bindTok2}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"bind.token"}},
		}))
		// Invalid requests that carry a token: the error must not echo it.
		seeProto(h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{
			Handy: &pb.HandyCredentials{Token: handyTok, BaseUrl: "nope"},
		}}))
		seeProto(h.connections.UpdateConnection(ctx, &pb.UpdateConnectionRequest{
			Connection: &pb.Connection{Id: id, Handy: &pb.HandyCredentials{Token: handyTok}, Settings: &pb.ConnectionSettings{TimeZone: "Nowhere/Zone"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"handy.token", "settings.time_zone"}},
		}))

		for _, call := range []struct{ method, path, body string }{
			{http.MethodPost, "/v1/connections", fmt.Sprintf(`{"displayName":"REST","handy":{"token":%q}}`, handyTok)},
			{http.MethodPatch, "/v1/connections/" + id, fmt.Sprintf(`{"handy":{"token":%q}}`, handyTok2)},
			{http.MethodGet, "/v1/connections/" + id, ""},
			{http.MethodGet, "/v1/connections", ""},
			{http.MethodPost, "/v1/connections", fmt.Sprintf(`{"displayName":"bad","handy":{"token":%q,"tokn":1}}`, handyTok)},
			{http.MethodPost, "/v1/connections", fmt.Sprintf(`{"handy":{"token":%q}}`, bindTok)},
		} {
			res := h.do(t, call.method, call.path, call.body)
			seen = append(seen, res.raw)
		}

		for _, s := range secrets {
			for _, text := range seen {
				require.NotContains(t, text, s, "a response carried a token")
			}
			require.NotContains(t, h.logs.String(), s, "a log line carried a token")
		}
		final, err := h.connections.GetConnection(ctx, &pb.GetConnectionRequest{Id: id})
		require.NoError(t, err)
		require.True(t, final.GetHandy().GetTokenSet())
		require.True(t, final.GetBind().GetTokenSet())

		// The raw row holds ciphertext only, and it opens to the latest tokens with the key.
		handyCT, handyKey, bindCT, bindKey := rawTokens(t, dbURL, id)
		for _, s := range secrets {
			require.NotContains(t, string(handyCT), s)
			require.NotContains(t, string(bindCT), s)
		}
		keys := keyringOf(t, cfg)
		got, err := keys.Open(secret.Sealed{KeyID: handyKey, Ciphertext: handyCT}, connection.TokenAAD(id, connection.FieldHandyToken))
		require.NoError(t, err)
		require.Equal(t, handyTok2, got)
		got, err = keys.Open(secret.Sealed{KeyID: bindKey, Ciphertext: bindCT}, connection.TokenAAD(id, connection.FieldBindToken))
		require.NoError(t, err)
		require.Equal(t, bindTok2, got)
	})
}

func rawTokens(t *testing.T, dbURL, id string) (handyCT []byte, handyKey string, bindCT []byte, bindKey string) {
	t.Helper()
	target, err := sqlstore.ParseURL(dbURL)
	require.NoError(t, err)
	driver := "sqlite"
	if target.Dialect == sqlstore.Postgres {
		driver = "pgx"
	}
	db, err := sql.Open(driver, target.DSN)
	require.NoError(t, err)
	defer db.Close()
	q := "SELECT handy_token_ciphertext, handy_token_key_id, bind_token_ciphertext, bind_token_key_id FROM connections WHERE id = $1"
	require.NoError(t, db.QueryRow(q, id).Scan(&handyCT, &handyKey, &bindCT, &bindKey))
	require.NotEmpty(t, handyCT)
	require.NotEmpty(t, bindCT)
	return handyCT, handyKey, bindCT, bindKey
}

func keyringOf(t *testing.T, cfg app.Config) *secret.Keyring {
	t.Helper()
	if cfg.SecretKey != "" {
		id, b64, _ := strings.Cut(cfg.SecretKey, ":")
		keys, err := secret.ParseKeys([]byte(id + " " + b64))
		require.NoError(t, err)
		kr, err := secret.NewKeyring(keys...)
		require.NoError(t, err)
		return kr
	}
	kr, err := secret.LoadKeyFile(cfg.KeyFile(), false)
	require.NoError(t, err)
	return kr
}
