package app_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/testdb"
)

// FuzzREST sends arbitrary methods, paths and bodies to the REST gateway with a valid key: no
// input may make the service answer 5xx (storage errors, panics) or hang. CI runs it for a fixed
// time; `go test` runs the seeds.
func FuzzREST(f *testing.F) {
	h := startServer(f, testConfig(f, testdb.SQLite(f)))
	c, err := h.connections.CreateConnection(context.Background(), &pb.CreateConnectionRequest{Connection: &pb.Connection{DisplayName: "seed"}})
	if err != nil {
		f.Fatal(err)
	}
	id := c.GetId()
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut}
	seeds := []struct {
		method     uint8
		path, body string
	}{
		{0, "/v1/connections", ""},
		{0, "/v1/connections?pageSize=2&pageToken=%00&state=CONNECTION_STATE_ACTIVE&tenant=acme", ""},
		{1, "/v1/connections", `{"displayName":"Norte","tenant":"acme","handy":{"baseUrl":"http://127.0.0.1:1","token":"t"}}`},
		{1, "/v1/connections", `{"displayName":"\u0000","settings":{"timeZone":"Mars/Base"}}`},
		{2, "/v1/connections/" + id + "?updateMask=display_name,settings.warehouse", `{"displayName":"x","settings":{"warehouse":"y"}}`},
		{2, "/v1/connections/" + id, `{"bind":{"baseUrl":"http://169.254.169.254","token":"x"},"mappingVersion":"v999999"}`},
		{3, "/v1/connections/" + id, ""},
		{1, "/v1/connections/" + id + ":activate", `{}`},
		{1, "/v1/connections/" + id + ":pause", `{"id":"other"}`},
		{1, "/v1/connections/" + id + "/runs", `{"kind":"SYNC_KIND_SALES"}`},
		{0, "/v1/connections/" + id + "/runs?kind=SYNC_KIND_PRODUCTS&state=RUN_STATE_FAILED&pageSize=500", ""},
		{0, "/v1/runs/" + id + "/items?outcome=RUN_ITEM_OUTCOME_FAILED&entity=RUN_ITEM_ENTITY_SALE", ""},
		{0, "/v1/runs/not-a-uuid", ""},
		{0, "/v1/mappings", ""},
		{0, "/v1/mappings/handy-bind/versions/v1", ""},
		{1, "/v1/mappings:validate", `{"source":"apiVersion: handybind/v1\nname: x\n"}`},
		{1, "/v1/mappings:preview", `{"mapping":{"name":"handy-bind","version":"v1"},"target":"product","inputJson":"{}"}`},
		{0, "/v1/audit-events?pageSize=0&tenant=ACME", ""},
		{4, "/v1/connections", `[1,2,3]`},
		{1, "/v1/connections", `{"displayName":` + strings.Repeat("[", 5000)},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.body)
	}
	client := &http.Client{Timeout: 10 * time.Second} // a hang is a failure too
	f.Fuzz(func(t *testing.T, m uint8, path, body string) {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequest(methods[int(m)%len(methods)], h.rest+path, strings.NewReader(body))
		if err != nil {
			return // not a request any client could send
		}
		req.Header.Set("Authorization", "Bearer "+h.key)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("%s %s %q: no answer within the client's timeout", req.Method, path, body)
			}
			return
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s %q: %d %s", req.Method, path, body, res.StatusCode, raw)
		}
	})
}
