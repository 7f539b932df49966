// Package metrics holds handybind's Prometheus metrics: API calls, and the syncs' runs and the
// records they touched. One Registry is built per process and served at /metrics.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the service's instruments.
type Metrics struct {
	registry *prometheus.Registry

	RPCs     *prometheus.HistogramVec // method, code
	Runs     *prometheus.CounterVec   // kind, state
	RunTime  *prometheus.HistogramVec // kind
	Items    *prometheus.CounterVec   // kind, entity, outcome
	Pending  *prometheus.GaugeVec     // connection: sales waiting to be sent
	Failures *prometheus.CounterVec   // kind: runs that stopped early
}

// New registers every metric on a fresh registry, with the Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		RPCs: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "handybind_rpc_duration_seconds", Help: "gRPC calls (REST calls included, through the gateway) by method and code.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}, []string{"method", "code"}),
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
		Pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "handybind_pending_sales", Help: "Sales waiting to be sent (a product missing in Bind, an unknown warehouse…), by connection.",
		}, []string{"connection"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "handybind_sync_run_errors_total", Help: "Sync runs that stopped early, by kind.",
		}, []string{"kind"}),
	}
	r.MustRegister(m.RPCs, m.Runs, m.RunTime, m.Items, m.Pending, m.Failures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// HealthFunc counts the active connections by health ("ok", "late", "failing") and gives the age
// of the least recent last successful sales sync among them.
type HealthFunc func(ctx context.Context) (counts map[string]int, oldest time.Duration, err error)

// WatchHealth exposes, computed at each scrape, handybind_connections{health} and
// handybind_sales_sync_oldest_success_age_seconds: alert on late or failing connections, and on
// an age above 20 minutes. Per-connection detail is in the API, not in labels.
func (m *Metrics) WatchHealth(fn HealthFunc) {
	m.registry.MustRegister(&healthCollector{fn: fn,
		connections: prometheus.NewDesc("handybind_connections", "Active connections by health: ok, late (no successful sales sync for 20 minutes) or failing (the last sales sync failed).", []string{"health"}, nil),
		oldest:      prometheus.NewDesc("handybind_sales_sync_oldest_success_age_seconds", "Age of the least recent last successful sales sync among active connections.", nil, nil),
	})
}

type healthCollector struct {
	fn                  HealthFunc
	connections, oldest *prometheus.Desc
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.connections; ch <- c.oldest }

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, oldest, err := c.fn(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.connections, err)
		return
	}
	for health, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, float64(n), health)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, oldest.Seconds())
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// ObserveRPC records one API call.
func (m *Metrics) ObserveRPC(method, code string, d time.Duration) {
	if m != nil {
		m.RPCs.WithLabelValues(method, code).Observe(d.Seconds())
	}
}
