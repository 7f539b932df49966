package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/testdb"
)

const sampleOrderInput = `{
  "sale": {"id": 29079294, "mobileDateCreated": "2023-02-26T07:14:32Z", "totalSales": 2822.7, "comment": "entregar temprano"},
  "seller": {"id": 74120, "name": "Beto Ventas", "email": "beto@example.com", "extras": "Almacén Norte"},
  "customer": {"code": "9112069", "description": "Abarrotes Lupita"},
  "connection": {"priceListId": "6f0c8f0e-3a53-4b2a-9a51-0d8f5f0b7a11", "currencyId": "b7e2c065-bd52-40ca-b508-3accdd538860", "timeZone": "America/Mexico_City"},
  "lines": [{"index": 0, "productCode": "E-001", "quantity": 3, "price": 940.9, "taxRate": 16, "unit": "PZA"}]
}`

func TestMappingPreviewOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	ctx := context.Background()
	mappings := pb.NewMappingServiceClient(h.conn)

	res, err := mappings.PreviewMapping(ctx, &pb.PreviewMappingRequest{
		Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v1"}}, Target: "order", InputJson: sampleOrderInput,
	})
	require.NoError(t, err)
	var payload map[string]any
	require.NoError(t, json.Unmarshal([]byte(res.GetPayloadJson()), &payload))
	require.Equal(t, "29079294", payload["PurchaseOrder"])
	require.Equal(t, "Vendedor: Beto Ventas <beto@example.com>. entregar temprano", payload["Comments"])
	byField := map[string]*pb.FieldExplanation{}
	for _, f := range res.GetFields() {
		byField[f.GetField()] = f
	}
	require.Equal(t, "netOfTax(line.price, line.taxRate)", byField["Products[0].Price"].GetRule())
	require.Equal(t, "811.1206896552", byField["Products[0].Price"].GetValueJson())
	require.Positive(t, byField["PurchaseOrder"].GetLine())

	body, _ := json.Marshal(map[string]any{"mapping": map[string]string{"version": "v1"}, "target": "order", "inputJson": sampleOrderInput})
	rest := h.do(t, http.MethodPost, "/v1/mappings:preview", string(body))
	require.Equal(t, http.StatusOK, rest.status, rest.raw)
	require.Equal(t, res.GetPayloadJson(), rest.body["payloadJson"])
	require.Len(t, rest.body["fields"], len(res.GetFields()))

	// A preview of an edited source, not yet on disk, changes nothing anywhere.
	src, err := os.ReadFile("../../mappings/handy-bind/v1.yaml")
	require.NoError(t, err)
	edited := strings.Replace(string(src), `"Vendedor: " + seller.name`, `"Vendió: " + seller.name`, 1)
	res, err = mappings.PreviewMapping(ctx, &pb.PreviewMappingRequest{
		Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Source{Source: edited}}, Target: "order", InputJson: sampleOrderInput,
	})
	require.NoError(t, err)
	require.Contains(t, res.GetPayloadJson(), "Vendió: Beto Ventas")

	// Bad input names the field.
	_, err = mappings.PreviewMapping(ctx, &pb.PreviewMappingRequest{
		Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v1"}}, Target: "order", InputJson: `{"sale": {"idd": 1}}`,
	})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, status.Convert(err).Message(), `unknown field "idd"`)
	_, err = mappings.PreviewMapping(ctx, &pb.PreviewMappingRequest{
		Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v9"}}, Target: "order", InputJson: `{}`,
	})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = mappings.PreviewMapping(ctx, &pb.PreviewMappingRequest{
		Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v1"}}, Target: "invoice", InputJson: `{}`,
	})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestMappingListGetValidateTest(t *testing.T) {
	t.Parallel()
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	ctx := context.Background()
	mappings := pb.NewMappingServiceClient(h.conn)

	list, err := mappings.ListMappings(ctx, &pb.ListMappingsRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetMappings(), 2)
	for i, want := range []string{"v2", "v1"} { // newest first
		m := list.GetMappings()[i]
		require.Equal(t, want, m.GetVersion())
		require.True(t, m.GetActive())
		require.True(t, m.GetBuiltIn())
		require.Empty(t, m.GetTenant())
	}

	got := h.do(t, http.MethodGet, "/v1/mappings/handy-bind/versions/v1", "")
	require.Equal(t, http.StatusOK, got.status, got.raw)
	require.Contains(t, got.body["source"], "apiVersion: handybind.dev/mapping/v1")
	require.Len(t, got.body["checksum"], 64)
	missing := h.do(t, http.MethodGet, "/v1/mappings/handy-bind/versions/v42", "")
	require.Equal(t, http.StatusNotFound, missing.status)

	bad := `apiVersion: handybind.dev/mapping/v1
name: handy-bind
version: v1
rules:
  product:
    Title: product.descripton
`
	v, err := mappings.ValidateMapping(ctx, &pb.ValidateMappingRequest{Source: bad})
	require.NoError(t, err)
	require.False(t, v.GetValid())
	var msgs []string
	for _, p := range v.GetProblems() {
		msgs = append(msgs, p.String())
	}
	require.Contains(t, strings.Join(msgs, "\n"), "did you mean product.description?")

	tr, err := mappings.TestMapping(ctx, &pb.TestMappingRequest{Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v2"}}})
	require.NoError(t, err)
	require.True(t, tr.GetPassed())
	require.Empty(t, tr.GetUntestedRules())

	// A connection is pinned to the newest mapping in use, and cannot name one that is not.
	c, err := h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x"}})
	require.NoError(t, err)
	require.Equal(t, "v2", c.GetMappingVersion())
	_, err = h.connections.CreateConnection(ctx, &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x", MappingVersion: "v9"}})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestMappingFileEditedWhileServing(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testdb.SQLite(t))
	cfg.MappingsDir = t.TempDir()
	src, err := os.ReadFile("../../mappings/handy-bind/v1.yaml")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(cfg.MappingsDir+"/handy-bind", 0o755))
	file := cfg.MappingsDir + "/handy-bind/v1.yaml"
	require.NoError(t, os.WriteFile(file, src, 0o644))
	h := startServer(t, cfg)
	ctx := context.Background()
	mappings := pb.NewMappingServiceClient(h.conn)
	preview := func() string {
		res, err := mappings.PreviewMapping(ctx, &pb.PreviewMappingRequest{
			Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: "v1"}}, Target: "order", InputJson: sampleOrderInput,
		})
		require.NoError(t, err)
		return res.GetPayloadJson()
	}
	require.Contains(t, preview(), "Vendedor: Beto")

	// A valid change is live within seconds.
	changed := strings.Replace(string(src), `"Vendedor: " + seller.name`, `"Vendió: " + seller.name`, 1)
	changed = strings.Replace(changed, `Comments: "Vendedor: Beto Ventas`, `Comments: "Vendió: Beto Ventas`, 1)
	require.NoError(t, os.WriteFile(file, []byte(changed), 0o644))
	require.Eventually(t, func() bool { return strings.Contains(preview(), "Vendió: Beto") }, 10*time.Second, 50*time.Millisecond)

	// A broken one is refused and reported, and the last good version keeps serving.
	broken := strings.Replace(changed, "Title: product.description", "Title: product.descripton", 1)
	require.NoError(t, os.WriteFile(file, []byte(broken), 0o644))
	require.Eventually(t, func() bool {
		list, err := mappings.ListMappings(ctx, &pb.ListMappingsRequest{})
		require.NoError(t, err)
		for _, m := range list.GetMappings() {
			for _, p := range m.GetProblems() {
				if m.GetVersion() == "v1" && strings.Contains(p.GetMessage(), "did you mean product.description?") {
					return true
				}
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond)
	require.Contains(t, preview(), "Vendió: Beto")
	require.Contains(t, h.logs.String(), "mapping refused")
}

// TestBuiltInMappingsOutsideTheRepository: a binary run from a folder without mappings/ (as an
// installed one is) serves the mapping versions built into it.
func TestBuiltInMappingsOutsideTheRepository(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, testdb.SQLite(t))
	cfg.MappingsDir = app.Defaults().MappingsDir // "mappings", which this test's folder does not have
	h := startServer(t, cfg)
	list, err := pb.NewMappingServiceClient(h.conn).ListMappings(context.Background(), &pb.ListMappingsRequest{})
	require.NoError(t, err)
	var versions []string
	for _, m := range list.GetMappings() {
		versions = append(versions, m.GetVersion())
	}
	require.Contains(t, versions, "v1")
	require.Contains(t, versions, "v2")

	// --mappings-dir adds versions to the built-in ones.
	cfg = testConfig(t, testdb.SQLite(t))
	cfg.MappingsDir = t.TempDir()
	src, err := os.ReadFile("../../mappings/handy-bind/v2.yaml")
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(cfg.MappingsDir, "handy-bind"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(cfg.MappingsDir, "handy-bind", "v3.yaml"),
		[]byte(strings.Replace(string(src), "version: v2", "version: v3", 1)), 0o644))
	h = startServer(t, cfg)
	list, err = pb.NewMappingServiceClient(h.conn).ListMappings(context.Background(), &pb.ListMappingsRequest{})
	require.NoError(t, err)
	versions = versions[:0]
	for _, m := range list.GetMappings() {
		require.True(t, m.GetActive(), m.GetVersion())
		versions = append(versions, m.GetVersion())
	}
	require.Equal(t, []string{"v3", "v2", "v1"}, versions)
	c, err := h.connections.CreateConnection(context.Background(), &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "x"}})
	require.NoError(t, err)
	require.Equal(t, "v3", c.GetMappingVersion(), "the operator's newest version is the newest global one")

	// A folder named on purpose that is not there is still an error, not a silent fallback.
	cfg = testConfig(t, testdb.SQLite(t))
	cfg.MappingsDir = filepath.Join(t.TempDir(), "nowhere")
	_, err = app.NewServer(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.ErrorContains(t, err, "mappings folder")
}
