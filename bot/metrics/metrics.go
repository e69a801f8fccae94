// Package metrics exposes Lotse's operational metrics to Prometheus. It
// is the only package that imports the Prometheus client: the transport
// and the program report events through small interfaces
// (telegram.Observer) that *Metrics implements.
//
// Every metric is prefixed "lotse_". Label values come from fixed sets
// (update kinds, outcomes, Bot API methods, status codes), never from
// users, so cardinality stays bounded and nothing personal is exported.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds Lotse's collectors on a registry of its own, so tests
// and several instances in one process do not collide. It is safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	updates   *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	apiCalls  *prometheus.CounterVec
	floods    *prometheus.CounterVec
	webhook   *prometheus.CounterVec
	kbReloads *prometheus.CounterVec
	kbEntries prometheus.Gauge
	fallbacks *prometheus.CounterVec
	sharedUp  *prometheus.GaugeVec
}

// New returns Metrics with all collectors registered, plus the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lotse_updates_total",
			Help: "Telegram updates dealt with, by kind (text, callback, ...) and outcome (ok, error, unavailable, timeout, panic, ignored).",
		}, []string{"kind", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lotse_update_duration_seconds",
			Help:    "Time to handle one update, replies included, by kind.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 120},
		}, []string{"kind"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lotse_telegram_api_calls_total",
			Help: "Bot API call attempts by method and result code (200 ok, Telegram's error code, 0 no answer).",
		}, []string{"method", "code"}),
		floods: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lotse_telegram_flood_waits_total",
			Help: "Bot API calls answered 429 Too Many Requests, by method.",
		}, []string{"method"}),
		webhook: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lotse_webhook_requests_total",
			Help: "Requests to the webhook by HTTP status answered (401: wrong secret, 413: too large, 400: not an update, 503: retry later).",
		}, []string{"code"}),
		kbReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lotse_knowledge_reloads_total",
			Help: "Knowledge base reloads by result (success, failure; on failure the previous base stays live).",
		}, []string{"result"}),
		kbEntries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lotse_knowledge_entries",
			Help: "Entries in the live knowledge base.",
		}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lotse_replica_fallbacks_total",
			Help: "Calls to the flood limits (part=limiter) or chat lock (part=lock) shared by the replicas through Redis that Redis did not answer, so this replica fell back to its in-process limits (for the next seconds) or lock (for that update).",
		}, []string{"part"}),
		sharedUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lotse_replica_shared_up",
			Help: "1 if the last call to the shared flood limits (part=limiter) or chat lock (part=lock) reached Redis, 0 if this replica fell back to local ones.",
		}, []string{"part"}),
	}
	m.reg.MustRegister(m.updates, m.latency, m.apiCalls, m.floods, m.webhook, m.kbReloads, m.kbEntries, m.fallbacks, m.sharedUp,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Both results exist from the start, so "no failure yet" is a 0
	// that alerts can compare, not a missing series.
	m.kbReloads.WithLabelValues("success")
	m.kbReloads.WithLabelValues("failure")
	return m
}

// Registry is the registry the collectors are on, for adding more.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Update counts one update and its handling time (telegram.Observer).
func (m *Metrics) Update(kind, outcome string, d time.Duration) {
	m.updates.WithLabelValues(kind, outcome).Inc()
	if outcome != "ignored" {
		m.latency.WithLabelValues(kind).Observe(d.Seconds())
	}
}

// APICall counts one Bot API call attempt (telegram.Observer).
func (m *Metrics) APICall(method string, code int) {
	m.apiCalls.WithLabelValues(method, strconv.Itoa(code)).Inc()
	if code == http.StatusTooManyRequests {
		m.floods.WithLabelValues(method).Inc()
	}
}

// WebhookRequest counts one webhook request (telegram.Observer).
func (m *Metrics) WebhookRequest(status int) {
	m.webhook.WithLabelValues(strconv.Itoa(status)).Inc()
}

// SharedCall records whether a call to the limits or locks the replicas
// share through Redis reached it (replica.Observer); part is
// "limiter" or "lock". The counter of fallbacks exists for a part from
// its first call, so "no fallback yet" is a 0, not a missing series.
func (m *Metrics) SharedCall(part string, ok bool) {
	c := m.fallbacks.WithLabelValues(part)
	if ok {
		m.sharedUp.WithLabelValues(part).Set(1)
		return
	}
	c.Inc()
	m.sharedUp.WithLabelValues(part).Set(0)
}

// KnowledgeLoaded records a knowledge base (re)load: ok with the number
// of entries now live, or a refused reload.
func (m *Metrics) KnowledgeLoaded(ok bool, entries int) {
	if !ok {
		m.kbReloads.WithLabelValues("failure").Inc()
		return
	}
	m.kbReloads.WithLabelValues("success").Inc()
	m.kbEntries.Set(float64(entries))
}

// TicketsByState exports lotse_tickets{state}, read from count at every
// scrape. It is the hook for the ticket store: count should be cheap
// (a few Redis calls at most) and must not fail the scrape; states it
// cannot count it leaves out. Call it at most once.
func (m *Metrics) TicketsByState(count func() map[string]int) {
	m.reg.MustRegister(&gaugeFunc{
		desc:  prometheus.NewDesc("lotse_tickets", "Tickets (requests to Quartiermanager) by state.", []string{"state"}, nil),
		count: count,
	})
}

// gaugeFunc is a gauge vector computed at scrape time.
type gaugeFunc struct {
	desc  *prometheus.Desc
	count func() map[string]int
}

func (g *gaugeFunc) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *gaugeFunc) Collect(ch chan<- prometheus.Metric) {
	for state, n := range g.count() {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, float64(n), state)
	}
}
