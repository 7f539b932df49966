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

// Fault is a misbehaviour injected into the next requests of one route. The faults come in two
// families, as they do in production: those that stop a request before it is applied (Latency
// that the client gives up on, Status, Hang), after which a client may safely send it again, and
// those that apply it and then fail to deliver the answer (StatusAfterApply, LoseResponse,
// SlowResponse), after which a client that sends a create again makes a duplicate.
type Fault struct {
	// Latency delays the request before it is handled (and, with nothing else set, is the whole
	// fault). A client that gives up during the delay leaves the request unapplied.
	Latency time.Duration
	// Status answers with this status instead (429, 500, 503…), without applying the request.
	Status int
	// Header is added to a Status or StatusAfterApply answer (Retry-After, X-RateLimit-Reset…).
	Header http.Header
	// Hang never answers: the request waits until the client gives up, and is not applied.
	Hang bool
	// StatusAfterApply applies the request, then answers with this status (500, 502, 504…) in
	// place of its real answer, as a gateway does when the backend finished after it timed out.
	StatusAfterApply int
	// LoseResponse applies the request, then drops the connection before answering.
	LoseResponse bool
	// SlowResponse applies the request, then holds its answer this long. A client that gives up
	// first never learns that the request was applied; one that waits gets the real answer.
	SlowResponse time.Duration
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

// buffer holds an answer that is not sent yet (or never).
type buffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffer) Header() http.Header { return b.header }
func (b *buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *buffer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

// sendTo writes the held answer to w.
func (b *buffer) sendTo(w http.ResponseWriter) {
	for name, vals := range b.header {
		w.Header()[name] = vals
	}
	if b.status != 0 {
		w.WriteHeader(b.status)
	}
	_, _ = w.Write(b.body.Bytes())
}

// applyHeld applies the request into a buffer, so that the fault decides what, if anything, the
// client hears.
func applyHeld(apply func(http.ResponseWriter)) *buffer {
	b := &buffer{header: http.Header{}}
	apply(b)
	return b
}

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
	if !faulty {
		apply(rec)
		return
	}
	if f.Latency > 0 && !wait(r, f.Latency) {
		return
	}
	switch {
	case f.Hang:
		<-r.Context().Done()
	case f.Status != 0:
		for name, vals := range f.Header {
			rec.Header()[name] = vals
		}
		fail(rec, f.Status)
	case f.StatusAfterApply != 0:
		applyHeld(apply)
		for name, vals := range f.Header {
			rec.Header()[name] = vals
		}
		fail(rec, f.StatusAfterApply)
	case f.LoseResponse:
		applyHeld(apply)
		// Drop the connection before the client hears anything.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case f.SlowResponse > 0:
		held := applyHeld(apply)
		if wait(r, f.SlowResponse) {
			held.sendTo(rec)
		}
	default:
		apply(rec)
	}
}

// wait sleeps for d and reports whether the client is still there.
func wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
