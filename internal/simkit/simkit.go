// Package simkit is what the Handy and Bind simulators share: faults injected per route, a log of
// every request with its response, counters per route, and the peak number of requests in flight.
package simkit

import (
	"bytes"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Fault is a misbehaviour injected into the next requests of one route.
type Fault struct {
	// Latency delays the answer (and, with nothing else set, is the whole fault).
	Latency time.Duration
	// Status answers with this status instead (429, 500, 503…), without applying the request.
	Status int
	// Header is added to a Status answer (Retry-After, X-RateLimit-Reset…).
	Header http.Header
	// Hang never answers: the request waits until the client gives up.
	Hang bool
	// LoseResponse applies the request, then drops the connection before answering.
	LoseResponse bool
	// Times is how many requests the fault hits [1].
	Times int
}

// Request is one request a simulator answered, with its response.
type Request struct {
	Method, Path, Query string
	Route               string // e.g. "POST /api/Orders", "GET /salesOrder/{id}"
	Header              http.Header
	Body                []byte
	Status              int
	Response            []byte
	ContentType         string
}

// Recorder holds faults, the request log and counters for one simulator.
type Recorder struct {
	mu       sync.Mutex
	faults   map[string][]Fault
	log      []Request
	counters map[string]int
	inFlight int
	peak     int
}

// Inject queues a fault for a route.
func (k *Recorder) Inject(route string, f Fault) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	if k.faults == nil {
		k.faults = map[string][]Fault{}
	}
	k.faults[route] = append(k.faults[route], f)
}

// Requests returns the request log.
func (k *Recorder) Requests() []Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.log)
}

// Count returns how many requests a route has had.
func (k *Recorder) Count(route string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.counters[route]
}

// PeakInFlight is the most requests answered at once.
func (k *Recorder) PeakInFlight() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.peak
}

func (k *Recorder) takeFault(route string) (Fault, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	q := k.faults[route]
	if len(q) == 0 {
		return Fault{}, false
	}
	f := q[0]
	q[0].Times--
	if q[0].Times <= 0 {
		k.faults[route] = q[1:]
	}
	return f, true
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) { r.status = code; r.ResponseWriter.WriteHeader(code) }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

type discard struct{ header http.Header }

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// Serve answers one request: it counts and logs it, applies any fault queued for route, and
// otherwise calls apply. fail writes a simulator's error body for a status fault.
func (k *Recorder) Serve(w http.ResponseWriter, r *http.Request, route string, body []byte,
	apply func(http.ResponseWriter), fail func(http.ResponseWriter, int)) {
	k.mu.Lock()
	if k.counters == nil {
		k.counters = map[string]int{}
	}
	k.counters[route]++
	k.inFlight++
	k.peak = max(k.peak, k.inFlight)
	k.mu.Unlock()

	rec := &recorder{ResponseWriter: w}
	defer func() {
		k.mu.Lock()
		k.inFlight--
		k.log = append(k.log, Request{
			Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Route: route, Header: r.Header.Clone(),
			Body: body, Status: rec.status, Response: rec.body.Bytes(), ContentType: rec.Header().Get("Content-Type"),
		})
		k.mu.Unlock()
	}()

	f, faulty := k.takeFault(route)
	if faulty {
		if f.Latency > 0 {
			select {
			case <-time.After(f.Latency):
			case <-r.Context().Done():
				return
			}
		}
		if f.Hang {
			<-r.Context().Done()
			return
		}
		if f.Status != 0 {
			for name, vals := range f.Header {
				rec.Header()[name] = vals
			}
			fail(rec, f.Status)
			return
		}
		if f.LoseResponse {
			// Apply the request, then drop the connection before the client hears anything.
			apply(&discard{header: http.Header{}})
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
	}
	apply(rec)
}
