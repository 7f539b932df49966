package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/testdb"
)

// TestOneTraceFromTriggerToBind follows a sales sync from the TriggerSync call, through the job
// that runs it and the sale, to the Bind order POST: one trace, with the ids as attributes and
// no token in any attribute.
func TestOneTraceFromTriggerToBind(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	cfg := testConfig(t, testdb.SQLite(t))
	cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	h := startServer(t, cfg)
	s := newSims(t)
	ctx := context.Background()
	conn, _ := activeWithRun(t, h, s)
	require.Eventually(t, func() bool { return len(s.bind.Products()) == 1 }, 10*time.Second, 20*time.Millisecond)
	sale, err := s.handy.CreateSale(handysim.Sale{Customer: "C-1", Seller: s.seller.ID, At: time.Now().UTC().Add(-time.Minute),
		Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(1)}}})
	require.NoError(t, err)

	run, err := h.runs.TriggerSync(ctx, &pb.TriggerSyncRequest{ConnectionId: conn.GetId(), Kind: pb.SyncKind_SYNC_KIND_SALES})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		r, err := h.runs.GetRun(ctx, &pb.GetRunRequest{Id: run.GetId()})
		require.NoError(t, err)
		return r.GetState() == pb.RunState_RUN_STATE_SUCCEEDED
	}, 20*time.Second, 20*time.Millisecond)
	require.Len(t, s.bind.Orders(), 1)

	// The run's span ends just after the run is recorded: wait for it.
	var spans tracetest.SpanStubs
	require.Eventually(t, func() bool {
		spans = exp.GetSpans()
		for _, sp := range spans {
			if sp.Name == "sync sales" {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	find := func(match func(tracetest.SpanStub) bool) tracetest.SpanStub {
		t.Helper()
		for _, sp := range spans {
			if match(sp) {
				return sp
			}
		}
		var names []string
		for _, sp := range spans {
			names = append(names, sp.Name)
		}
		t.Fatalf("no such span among %v", names)
		return tracetest.SpanStub{}
	}
	attr := func(sp tracetest.SpanStub, key string) string {
		for _, kv := range sp.Attributes {
			if string(kv.Key) == key {
				return kv.Value.String()
			}
		}
		return ""
	}
	trigger := find(func(sp tracetest.SpanStub) bool { return sp.Name == "handybind.v1.RunService/TriggerSync" })
	trace := trigger.SpanContext.TraceID()
	inTrace := func(match func(tracetest.SpanStub) bool) tracetest.SpanStub {
		return find(func(sp tracetest.SpanStub) bool { return sp.SpanContext.TraceID() == trace && match(sp) })
	}
	runSpan := inTrace(func(sp tracetest.SpanStub) bool { return sp.Name == "sync sales" })
	require.Equal(t, run.GetId(), attr(runSpan, "handybind.run_id"))
	require.Equal(t, conn.GetId(), attr(runSpan, "handybind.connection_id"))
	saleSpan := inTrace(func(sp tracetest.SpanStub) bool { return sp.Name == "sale" })
	require.Equal(t, sale.ID, saleSpan.Attributes[0].Value.AsInt64())
	post := inTrace(func(sp tracetest.SpanStub) bool {
		return attr(sp, "http.request.method") == "POST" && strings.HasSuffix(attr(sp, "url.full"), "/api/Orders")
	})
	require.Equal(t, saleSpan.SpanContext.SpanID(), post.Parent.SpanID(), "the order POST is a child of its sale")

	for _, sp := range spans {
		for _, kv := range sp.Attributes {
			for _, secret := range []string{"h-tok", "b-tok", h.key} {
				require.NotContains(t, kv.Value.String(), secret, "span %s attribute %s", sp.Name, kv.Key)
			}
		}
	}
}
