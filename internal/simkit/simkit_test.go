package simkit_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/handybind/handybind/internal/simkit"
)

// counter is the smallest simulator: every applied request adds one and answers 201 "done".
type counter struct {
	simkit.Recorder
	applied atomic.Int32
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.Serve(w, r, r.Method+" "+r.URL.Path, nil, func(w http.ResponseWriter) {
		c.applied.Add(1)
		w.Header().Set("X-Applied", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "done")
	}, func(w http.ResponseWriter, status int) {
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "failed")
	})
}

// TestFaults shows what the client hears and whether the request was applied, for every fault.
func TestFaults(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		fault        simkit.Fault
		timeout      time.Duration
		status       int // 0: no answer at all
		body         string
		applied      int32
		loggedStatus int
	}{
		"no fault":                      {status: http.StatusCreated, body: "done", applied: 1, loggedStatus: http.StatusCreated},
		"latency, then the answer":      {fault: simkit.Fault{Latency: 20 * time.Millisecond}, status: http.StatusCreated, body: "done", applied: 1, loggedStatus: http.StatusCreated},
		"latency the client gives up":   {fault: simkit.Fault{Latency: time.Second}, timeout: 50 * time.Millisecond, applied: 0},
		"refused with a status":         {fault: simkit.Fault{Status: http.StatusServiceUnavailable}, status: http.StatusServiceUnavailable, body: "failed", applied: 0, loggedStatus: http.StatusServiceUnavailable},
		"hang":                          {fault: simkit.Fault{Hang: true}, timeout: 50 * time.Millisecond, applied: 0},
		"applied, then a 5xx":           {fault: simkit.Fault{StatusAfterApply: http.StatusBadGateway}, status: http.StatusBadGateway, body: "failed", applied: 1, loggedStatus: http.StatusBadGateway},
		"applied, then no connection":   {fault: simkit.Fault{LoseResponse: true}, applied: 1},
		"applied, slow answer waited":   {fault: simkit.Fault{SlowResponse: 30 * time.Millisecond}, status: http.StatusCreated, body: "done", applied: 1, loggedStatus: http.StatusCreated},
		"applied, slow answer given up": {fault: simkit.Fault{SlowResponse: time.Second}, timeout: 50 * time.Millisecond, applied: 1},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sim := &counter{}
			srv := httptest.NewServer(sim)
			defer srv.Close()
			if !reflect.ValueOf(tc.fault).IsZero() {
				sim.Inject("POST /things", tc.fault)
			}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/things", nil)
			require.NoError(t, err)
			res, err := srv.Client().Do(req)
			if tc.status == 0 {
				require.Error(t, err, "the client hears nothing")
				if tc.timeout > 0 {
					require.True(t, errors.Is(err, context.DeadlineExceeded), err)
				}
			} else {
				require.NoError(t, err)
				body, err := io.ReadAll(res.Body)
				require.NoError(t, err)
				res.Body.Close()
				require.Equal(t, tc.status, res.StatusCode)
				require.Equal(t, tc.body, string(body))
			}
			// The handler may still be finishing after the client gave up.
			require.Eventually(t, func() bool { return len(sim.Requests()) == 1 }, time.Second, 5*time.Millisecond)
			require.Equal(t, tc.applied, sim.applied.Load())
			require.Equal(t, 1, sim.Count("POST /things"))
			require.Equal(t, tc.loggedStatus, sim.Requests()[0].Status, "the log holds what the client was sent")

			// A fault hits one request unless told otherwise.
			res, err = srv.Client().Post(srv.URL+"/things", "", nil)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusCreated, res.StatusCode)
		})
	}
}

func TestFaultTimes(t *testing.T) {
	t.Parallel()
	sim := &counter{}
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.Inject("GET /x", simkit.Fault{StatusAfterApply: http.StatusInternalServerError, Times: 2})
	var got []int
	for range 3 {
		res, err := srv.Client().Get(srv.URL + "/x")
		require.NoError(t, err)
		res.Body.Close()
		got = append(got, res.StatusCode)
	}
	require.Equal(t, []int{500, 500, 201}, got)
	require.Equal(t, int32(3), sim.applied.Load(), "every request was applied, the failed ones too")
}
