// Package metrics holds handybind's Prometheus metrics: API calls, and the syncs' runs and the
// records they touched. One Registry is built per process and served at /metrics.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's instruments.
type Metrics struct {
	registry *prometheus.Registry

	// GRPC is go-grpc-middleware's provider: grpc_server_started_total, grpc_server_handled_total
	// and grpc_server_handling_seconds by service, method and code, as gRPC dashboards expect.
	GRPC     *grpcprom.ServerMetrics
	Runs     *prometheus.CounterVec   // kind, state
	RunTime  *prometheus.HistogramVec // kind
	Items    *prometheus.CounterVec   // kind, entity, outcome
	Failures *prometheus.CounterVec   // kind: runs that stopped early
	// Calls are the requests sent to Handy and Bind, by system, method and status (or "error").
	Calls *prometheus.HistogramVec
}

// New registers every metric on a fresh registry, with the Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		GRPC: grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
			grpcprom.WithHistogramBuckets(prometheus.ExponentialBuckets(0.001, 4, 8)))),
		Runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handybind_sync_runs_total", Help: "Sync runs that ended, by kind and final state.",
		}, []string{"kind", "state"}),
		RunTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "handybind_sync_run_duration_seconds", Help: "How long sync runs took, by kind.",
			Buckets: prometheus.ExponentialBuckets(0.05, 4, 8),
		}, []string{"kind"}),
		Items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handybind_sync_items_total", Help: "Records the syncs touched, by kind, entity and outcome.",
		}, []string{"kind", "entity", "outcome"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handybind_sync_run_errors_total", Help: "Sync runs that stopped early, by kind.",
		}, []string{"kind"}),
	}
	m.Calls = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "handybind_upstream_request_duration_seconds", Help: "Requests to Handy and Bind by system, method and HTTP status (\"error\" when no answer came).",
		Buckets: prometheus.ExponentialBuckets(0.01, 3, 8),
	}, []string{"system", "method", "status"})
	r.MustRegister(m.Calls, m.GRPC, m.Runs, m.RunTime, m.Items, m.Failures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchMappingFallbacks exposes handybind_mapping_vm_fallbacks_total{reason}: rule runs (in syncs
// and dry runs) that fell back from a rule's compiled closure to expr's VM, because the closure gave up
// ("gave_up": a value it does not cover, or an error the VM reports) or panicked ("panic": a fault
// to report, though the VM's result stands). read gives the two counts.
func (m *Metrics) WatchMappingFallbacks(read func() (gaveUp, panicked uint64)) {
	help := "Rule runs (in syncs and dry runs) that fell back from the rule's compiled closure to the expression VM, by reason: gave_up (a value the closure does not cover, or an error the VM reports) or panic (a fault to report; the VM's result is used)."
	for _, reason := range []string{"gave_up", "panic"} {
		m.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "handybind_mapping_vm_fallbacks_total", Help: help, ConstLabels: prometheus.Labels{"reason": reason},
		}, func() float64 {
			gaveUp, panicked := read()
			if reason == "panic" {
				return float64(panicked)
			}
			return float64(gaveUp)
		}))
	}
}

// Health is what the service says of its connections at a scrape.
type Health struct {
	// Connections counts the active connections by health: "ok", "late", "failing".
	Connections map[string]int
	// OldestSuccess is the age of the least recent last successful sales sync among them.
	OldestSuccess time.Duration
	// Waiting counts the sales waiting to be sent, and OldestWaiting is how long the oldest waits.
	Waiting       int
	OldestWaiting time.Duration
}

// HealthFunc reads the connections' health.
type HealthFunc func(ctx context.Context) (Health, error)

// WatchHealth exposes, computed at each scrape: handybind_connections{health},
// handybind_sales_sync_oldest_success_age_seconds, handybind_waiting_sales and
// handybind_waiting_sale_oldest_age_seconds. Alert on late or failing connections, on an age of
// the last success above 20 minutes, on a waiting sale older than a day. Per-connection detail is
// in the API and the console, never in labels (unbounded, and it would tell who the customers are).
func (m *Metrics) WatchHealth(fn HealthFunc) {
	m.registry.MustRegister(&healthCollector{fn: fn,
		connections:   prometheus.NewDesc("handybind_connections", "Active connections by health: ok, late (no successful sales sync for 20 minutes) or failing (the last sales sync failed).", []string{"health"}, nil),
		oldest:        prometheus.NewDesc("handybind_sales_sync_oldest_success_age_seconds", "Age of the least recent last successful sales sync among active connections.", nil, nil),
		waiting:       prometheus.NewDesc("handybind_waiting_sales", "Sales waiting to be sent (a product missing in Bind, an unknown warehouse, totals that cannot match).", nil, nil),
		oldestWaiting: prometheus.NewDesc("handybind_waiting_sale_oldest_age_seconds", "How long the oldest waiting sale has waited.", nil, nil),
	})
}

type healthCollector struct {
	fn                                          HealthFunc
	connections, oldest, waiting, oldestWaiting *prometheus.Desc
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connections
	ch <- c.oldest
	ch <- c.waiting
	ch <- c.oldestWaiting
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, err := c.fn(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.connections, err)
		return
	}
	for health, n := range h.Connections {
		ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(n), health)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, h.OldestSuccess.Seconds())
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(h.Waiting))
	ch <- prometheus.MustNewConstMetric(c.oldestWaiting, prometheus.GaugeValue, h.OldestWaiting.Seconds())
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Upstream returns c with every request it sends measured as a call to system ("handy" or
// "bind"); the client is copied, c is left as it was.
func (m *Metrics) Upstream(c *http.Client, system string) *http.Client {
	out := *c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = roundTrip(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		res, err := base.RoundTrip(r)
		code := "error"
		if err == nil {
			code = strconv.Itoa(res.StatusCode)
		}
		m.Calls.WithLabelValues(system, r.Method, code).Observe(time.Since(start).Seconds())
		return res, err
	})
	return &out
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
