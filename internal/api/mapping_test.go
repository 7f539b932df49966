package api

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/catalog"
	"github.com/handybind/handybind/internal/mapping"
)

func newMappingServer(t *testing.T) *MappingServer {
	t.Helper()
	reg, err := mapping.NewRegistry(t.TempDir(), nil)
	require.NoError(t, err)
	return NewMappingServer(catalog.New(nil, nil, reg))
}

// hostileSources are mapping files whose checks would each hold hundreds of megabytes, or build
// gigabytes, without the limits.
func hostileSources(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../mappings/handy-bind/v1.yaml")
	require.NoError(t, err)
	v1 := string(raw)
	comments := "    Comments: >-\n      \"Vendedor: \" + seller.name + \" <\" + seller.email + \">\"\n      + (blank(sale.comment) ? \"\" : \". \" + trim(sale.comment))\n"
	require.Contains(t, v1, comments)
	with := func(expr string, bigText, cases int) string {
		var b strings.Builder
		b.WriteString(strings.Replace(v1, comments, "    Comments: |-\n      "+expr+"\n", 1))
		fmt.Fprintf(&b, "\n  - {name: big, target: order, input: {sale: {id: 1}, connection: *conn, seller: {name: &big %q}}, expect: {PurchaseOrder: \"1\"}}\n", strings.Repeat("a", bigText))
		for i := range cases {
			fmt.Fprintf(&b, "  - {name: t%d, target: order, input: {sale: {id: 1}, connection: *conn, seller: {name: *big}}, expect: {PurchaseOrder: \"1\"}}\n", i)
		}
		return b.String()
	}
	return []string{
		// Every case's input is the big text again once its alias is expanded: 150 MB of inputs.
		with("seller.name", 256<<10, 600),
		// ((a + a) + a) + …: texts of 1, 2, 3, … times a, up to 37 MB.
		with(strings.Repeat("seller.name + ", 74)+"seller.name", 512<<10, 0),
		// split(s, "") has an item per letter, and string() of it is twice s: 64 MB of text, and
		// lists of a gigabyte.
		with(strings.Repeat("string(split(", 16)+"seller.name"+strings.Repeat(`, ""))`, 16), 1<<10, 0),
		// upper(lower(upper(…))): a copy of the text per call, 8 MB a case.
		with(strings.Repeat("upper(lower(", 30)+"seller.name"+strings.Repeat("))", 30), 128<<10, 20),
	}
}

// TestConcurrentHostileChecksStayBounded sends 16 hostile checks at once, as 16 callers would, and
// samples the heap meanwhile: each check is bounded, and only a few run at a time, so the server
// stays far below 512 MB. Unbounded, these calls took gigabytes each.
func TestConcurrentHostileChecksStayBounded(t *testing.T) {
	// Not parallel: the heap is measured.
	s := newMappingServer(t)
	sources := hostileSources(t)
	// A preview whose 900 lines each get 70 KiB of comments: 63 MB of values, written out twice.
	lines := make([]string, 900)
	for i := range lines {
		lines[i] = fmt.Sprintf(`{"index":%d,"comments":%q}`, i, strings.Repeat("a", 1<<10))
	}
	previewInput := `{"sale":{"id":1},"connection":{"timeZone":"America/Mexico_City"},"lines":[` + strings.Join(lines, ",") + "]}"
	linesRule := "    Comments: |-\n      " + strings.Repeat("line.comments + ", 69) + "line.comments\n"
	previewSource := strings.Replace(sources[3], "    Comments: line.comments\n", linesRule, 1)

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	stop, sampled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(sampled)
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()

	const calls = 16
	errs := make([]error, calls) // of the calls whose answer was an error
	var wg sync.WaitGroup
	start := time.Now()
	for i := range calls {
		wg.Go(func() {
			var err error
			switch i % 5 {
			case 4:
				_, err = s.PreviewMapping(context.Background(), &pb.PreviewMappingRequest{
					Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Source{Source: previewSource}}, Target: "order", InputJson: previewInput,
				})
			default:
				_, err = s.TestMapping(context.Background(), &pb.TestMappingRequest{Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Source{Source: sources[i%5]}}})
			}
			errs[i] = toStatus(context.Background(), slog.New(slog.DiscardHandler), err)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	<-sampled

	grown := peak - min(peak, base.HeapAlloc)
	t.Logf("%d calls in %v; the heap grew by %.0f MB at most", calls, elapsed.Round(time.Millisecond), float64(grown)/1e6)
	require.Less(t, grown, uint64(256<<20), "16 checks at once must leave the server far below 512 MB")
	// Each call is refused or stopped by a limit (a source too large to load is an invalid
	// argument), or completes with its test cases failing on one; or finds the server busy.
	busy := 0
	for i, err := range errs {
		st := status.Convert(err)
		switch st.Code() {
		case codes.OK:
		case codes.InvalidArgument, codes.ResourceExhausted:
			require.Regexp(t, "the limit is|larger than|was stopped|busy", st.Message(), "call %d", i)
			if strings.Contains(st.Message(), "busy") {
				busy++
			}
		default:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	t.Logf("%d calls found the server busy", busy)
	require.Less(t, busy, calls, "some checks ran")
}

// TestBusyServerRefusesChecks: once every slot is taken, a check waits a little, then is refused
// with RESOURCE_EXHAUSTED and a message saying to retry.
func TestBusyServerRefusesChecks(t *testing.T) {
	t.Parallel()
	s := newMappingServer(t)
	s.wait = 10 * time.Millisecond
	var done []func()
	for range mappingChecks {
		d, err := s.startCheck(context.Background())
		require.NoError(t, err)
		done = append(done, d)
	}
	_, err := s.ValidateMapping(context.Background(), &pb.ValidateMappingRequest{Source: "x"})
	st := status.Convert(toStatus(context.Background(), slog.New(slog.DiscardHandler), err))
	require.Equal(t, codes.ResourceExhausted, st.Code())
	require.Equal(t, "the server is busy checking other mappings (4 at a time); retry in a moment", st.Message())

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.ValidateMapping(ctx, &pb.ValidateMappingRequest{Source: "x"})
	require.ErrorIs(t, err, context.Canceled)

	done[0]()
	v, err := s.ValidateMapping(context.Background(), &pb.ValidateMappingRequest{Source: "x"})
	require.NoError(t, err)
	require.False(t, v.GetValid())
}

// TestLimitsAreResourceExhausted: a check stopped by a limit says which, as RESOURCE_EXHAUSTED; a
// source refused for its size is an invalid argument that says so.
func TestLimitsAreResourceExhausted(t *testing.T) {
	t.Parallel()
	s := newMappingServer(t)
	toStatus := func(err error) *status.Status {
		return status.Convert(toStatus(context.Background(), slog.New(slog.DiscardHandler), err))
	}
	_, err := s.TestMapping(context.Background(), &pb.TestMappingRequest{Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Source{Source: hostileSources(t)[3]}}})
	st := toStatus(err)
	require.Equal(t, codes.ResourceExhausted, st.Code())
	// On a machine too busy to give the check a tenth of a core, its time runs out first.
	require.Regexp(t, "^mapping check (needed more than 16 MiB of memory|took longer than 1s) and was stopped$", st.Message())

	raw, err := os.ReadFile("../../mappings/handy-bind/v1.yaml")
	require.NoError(t, err)
	_, err = s.PreviewMapping(context.Background(), &pb.PreviewMappingRequest{
		Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Source{Source: string(raw)}}, Target: "warehouse",
		InputJson: `{"seller":{"extras":"` + strings.Repeat("a", 1<<20) + `"}}`,
	})
	st = toStatus(err)
	require.Equal(t, codes.ResourceExhausted, st.Code())
	require.Equal(t, "the preview input is too large: 1048600 bytes (1 MiB); the limit is 1 MiB", st.Message())

	v, err := s.ValidateMapping(context.Background(), &pb.ValidateMappingRequest{Source: string(raw) + "#" + strings.Repeat("x", 1<<20)})
	require.NoError(t, err)
	require.False(t, v.GetValid())
	require.Contains(t, v.GetProblems()[0].GetMessage(), "the mapping source is too large")
	_, err = s.TestMapping(context.Background(), &pb.TestMappingRequest{Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Source{Source: string(raw) + "#" + strings.Repeat("x", 1<<20)}}})
	st = toStatus(err)
	require.Equal(t, codes.InvalidArgument, st.Code())
	require.Contains(t, st.Message(), fmt.Sprintf("the mapping source is too large: %d bytes (1.01 MiB); the limit is 1 MiB", len(raw)+1+1<<20))
}
