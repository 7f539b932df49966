package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/secret"
	"github.com/handybind/handybind/internal/store"
	"github.com/handybind/handybind/internal/testdb"
)

// TestNULAndBadUTF8AreRefusedNamingTheField: such strings never reach storage (PostgreSQL text
// refuses NUL, which used to surface as an internal error).
func TestNULAndBadUTF8AreRefusedNamingTheField(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, dbURL string) {
		h := startServer(t, testConfig(t, dbURL))
		ctx := context.Background()
		_, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "Norte\x00SA",
			Settings: &pb.ConnectionSettings{Warehouse: "Matriz\x00"}}})
		st := status.Convert(err)
		require.Equal(t, codes.InvalidArgument, st.Code(), st.Message())
		var fields []string
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField())
				}
			}
		}
		require.ElementsMatch(t, []string{"connection.display_name", "connection.settings.warehouse"}, fields)
		require.Contains(t, st.Message(), "NUL")

		res := h.do(t, http.MethodPost, "/v1/connections", `{"displayName":"Norte\u0000SA"}`)
		require.Equal(t, http.StatusBadRequest, res.status, res.raw)
		require.Contains(t, res.raw, `"field":"connection.displayName"`, "REST names the field as it was sent")
		res = h.do(t, http.MethodPost, "/v1/connections", "{\"displayName\":\"Norte\xff\xfeSA\"}")
		require.Equal(t, http.StatusBadRequest, res.status, res.raw)
		require.Contains(t, res.raw, "UTF-8")
		res = h.do(t, http.MethodGet, "/v1/connections/abc%00def", "")
		require.Equal(t, http.StatusBadRequest, res.status, res.raw)
	})
}

// TestStartRefusesAKeyThatCannotOpenStoredTokens: a lost or wrong key file must not be replaced
// by a new one while the database holds tokens only the old one opens.
func TestStartRefusesAKeyThatCannotOpenStoredTokens(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(t, testdb.SQLite(t))
		h := startServer(t, cfg)
		_, err := h.connections.CreateConnection(context.Background(), &pb.CreateConnectionRequest{Connection: &pb.Connection{
			DisplayName: "x", Handy: &pb.HandyCredentials{Token: "h-tok"}}})
		require.NoError(t, err)
		h.stop()
		keyFile := cfg.KeyFile()
		original, err := os.ReadFile(keyFile)
		require.NoError(t, err)

		require.NoError(t, os.Remove(keyFile))
		_, err = app.NewServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
		require.ErrorContains(t, err, "restore that key file")
		_, statErr := os.Stat(keyFile)
		require.True(t, os.IsNotExist(statErr), "no new key is invented while tokens need the old one")

		other := make([]byte, secret.KeySize)
		_, _ = rand.Read(other)
		require.NoError(t, os.WriteFile(keyFile, []byte("k1 "+base64.StdEncoding.EncodeToString(other)+"\n"), 0o600))
		_, err = app.NewServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
		require.ErrorContains(t, err, "cannot open the stored handy.token")
		require.ErrorContains(t, err, "restore the key")

		require.NoError(t, os.WriteFile(keyFile, original, 0o600))
		srv, err := app.NewServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
		require.NoError(t, err, "the restored key starts")
		srv.Close()
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		cfg := testConfig(t, testdb.Postgres(t))
		h := startServer(t, cfg)
		_, err := h.connections.CreateConnection(context.Background(), &pb.CreateConnectionRequest{Connection: &pb.Connection{
			DisplayName: "x", Bind: &pb.BindCredentials{Token: "b-tok"}}})
		require.NoError(t, err)
		h.stop()
		other := make([]byte, secret.KeySize)
		_, _ = rand.Read(other)
		cfg.SecretKey = "t2:" + base64.StdEncoding.EncodeToString(other)
		_, err = app.NewServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
		require.ErrorContains(t, err, "cannot open the stored bind.token")
	})
}

// pki is a throw-away certificate authority with a server and two client certificates.
type pki struct {
	dir                     string
	caPool                  *x509.CertPool
	serverCert, serverKey   string
	caFile                  string
	client, stranger, rogue tls.Certificate
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
			NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		require.NoError(t, err)
		cert, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		return cert, key
	}
	ca, caKey := newCA("test CA")
	rogueCA, rogueKey := newCA("rogue CA")
	issue := func(cn string, server bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		require.NoError(t, err)
		kder, err := x509.MarshalECPrivateKey(key)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	}
	p := pki{dir: dir, caPool: x509.NewCertPool()}
	p.caPool.AddCert(ca)
	p.caFile = filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600))
	c, k := issue("127.0.0.1", true, ca, caKey)
	p.serverCert, p.serverKey = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	require.NoError(t, os.WriteFile(p.serverCert, c, 0o600))
	require.NoError(t, os.WriteFile(p.serverKey, k, 0o600))
	pair := func(c, k []byte) tls.Certificate {
		cert, err := tls.X509KeyPair(c, k)
		require.NoError(t, err)
		return cert
	}
	p.client = pair(issue("handy-backend", false, ca, caKey))
	p.stranger = pair(issue("someone-else", false, ca, caKey))
	p.rogue = pair(issue("handy-backend", false, rogueCA, rogueKey))
	return p
}

// TestMutualTLS: with TLS on, a verified client certificate bound to a key stands for that key on
// gRPC and REST; a certificate nobody bound, or one from another CA, does not.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	cfg := testConfig(t, testdb.SQLite(t))
	cfg.TLSCert, cfg.TLSKey, cfg.ClientCA = p.serverCert, p.serverKey, p.caFile
	h := startTLSServer(t, cfg, p)
	ctx := context.Background()
	_, _, err := h.srv.KeyAdmin().Create(ctx, app.NewKeyRequest{Role: store.RolePlatform, Name: "Handy backend", CertCN: "handy-backend"})
	require.NoError(t, err)

	grpcWith := func(certs ...tls.Certificate) pb.ConnectionServiceClient {
		conn, err := grpc.NewClient(h.srv.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: p.caPool, Certificates: certs})))
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return pb.NewConnectionServiceClient(conn)
	}
	c, err := grpcWith(p.client).CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x", Tenant: "acme"}})
	require.NoError(t, err, "the certificate acts as the platform key")
	require.Equal(t, "acme", c.GetTenant())
	_, err = grpcWith(p.stranger).ListConnections(ctx, &pb.ListConnectionsRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "no key is bound to this certificate")
	_, err = grpcWith().ListConnections(ctx, &pb.ListConnectionsRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	_, err = grpcWith(p.rogue).ListConnections(ctx, &pb.ListConnectionsRequest{})
	require.Error(t, err, "a certificate from another CA fails the handshake")

	restWith := func(certs ...tls.Certificate) (int, string) {
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.caPool, Certificates: certs}}}
		res, err := client.Get("https://" + h.srv.HTTPAddr() + "/v1/connections")
		require.NoError(t, err)
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	code, body := restWith(p.client)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, c.GetId())
	code, _ = restWith(p.stranger)
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = restWith()
	require.Equal(t, http.StatusUnauthorized, code)

	// Bearer keys keep working over TLS.
	conn, err := grpc.NewClient(h.srv.GRPCAddr(), grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: p.caPool})),
		grpc.WithPerRPCCredentials(bearer(h.key)))
	require.NoError(t, err)
	defer conn.Close()
	_, err = pb.NewConnectionServiceClient(conn).ListConnections(ctx, &pb.ListConnectionsRequest{})
	require.NoError(t, err)
	require.False(t, strings.Contains(h.logs.String(), h.key))
}

func startTLSServer(t *testing.T, cfg app.Config, p pki) *harness {
	t.Helper()
	h := startServerOver(t, cfg, credentials.NewTLS(&tls.Config{RootCAs: p.caPool}))
	h.rest = "https://" + h.srv.HTTPAddr()
	return h
}

// rawCodec sends bytes as they are, to put on the wire what no protobuf library would encode.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestInvalidUTF8OnTheGRPCWireNamesTheField: a hand-made client can send a string that is not
// UTF-8; it is refused as invalid input naming the field, not as an internal error.
func TestInvalidUTF8OnTheGRPCWireNamesTheField(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	// CreateConnectionRequest{connection: {display_name: "Norte\xff", settings: {warehouse: "ok"}}}
	settings := protowire.AppendString(protowire.AppendTag(nil, 3, protowire.BytesType), "ok")
	conn := protowire.AppendTag(nil, 2, protowire.BytesType)
	conn = protowire.AppendBytes(conn, []byte("Norte\xff"))
	conn = protowire.AppendBytes(protowire.AppendTag(conn, 5, protowire.BytesType), settings)
	req := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), conn)

	var resp []byte
	err := h.conn.Invoke(context.Background(), pb.ConnectionService_CreateConnection_FullMethodName, req, &resp, grpc.ForceCodecV2(rawCodec{}))
	st := status.Convert(err)
	require.Equal(t, codes.InvalidArgument, st.Code(), st.Message())
	require.Contains(t, st.Message(), "connection.display_name")
	require.Contains(t, st.Message(), "UTF-8")
}
