package httpapi

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"batchgate/gateway"
)

// httpMetrics counts requests by route and status, and their latency, in Prometheus terms.
type httpMetrics struct {
	mu       sync.Mutex
	requests map[[3]string]int64 // method, route, status
	seconds  map[[2]string]*latency
}

type latency struct {
	count   int64
	sum     float64
	buckets []int64 // cumulative counts per latencyBuckets bound
}

var latencyBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

func newHTTPMetrics() *httpMetrics {
	return &httpMetrics{requests: map[[3]string]int64{}, seconds: map[[2]string]*latency{}}
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// method may view fasthttp's request buffer, reused after the request: a key stored in a map
	// must be a copy, or its bytes change under the map (lookups then miss and /metrics panicked).
	rkey := [3]string{method, route, strconv.Itoa(status)}
	if _, ok := m.requests[rkey]; !ok {
		rkey = [3]string{strings.Clone(method), strings.Clone(route), rkey[2]}
	}
	m.requests[rkey]++
	key := [2]string{method, route}
	l := m.seconds[key]
	if l == nil {
		l = &latency{buckets: make([]int64, len(latencyBuckets))}
		m.seconds[[2]string{strings.Clone(method), strings.Clone(route)}] = l
	}
	sec := d.Seconds()
	l.count++
	l.sum += sec
	for i, b := range latencyBuckets {
		if sec <= b {
			l.buckets[i]++
		}
	}
}

func (m *httpMetrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP batchgate_http_requests_total HTTP requests by method, route and status.")
	fmt.Fprintln(w, "# TYPE batchgate_http_requests_total counter")
	for _, k := range sortedKeys(m.requests) {
		fmt.Fprintf(w, "batchgate_http_requests_total{method=%q,route=%q,status=%q} %d\n", k[0], k[1], k[2], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP batchgate_http_request_duration_seconds HTTP request latency.")
	fmt.Fprintln(w, "# TYPE batchgate_http_request_duration_seconds histogram")
	for _, k := range sortedKeys(m.seconds) {
		l := m.seconds[k]
		for i, b := range latencyBuckets {
			fmt.Fprintf(w, "batchgate_http_request_duration_seconds_bucket{method=%q,route=%q,le=\"%g\"} %d\n", k[0], k[1], b, l.buckets[i])
		}
		fmt.Fprintf(w, "batchgate_http_request_duration_seconds_bucket{method=%q,route=%q,le=\"+Inf\"} %d\n", k[0], k[1], l.count)
		fmt.Fprintf(w, "batchgate_http_request_duration_seconds_sum{method=%q,route=%q} %g\n", k[0], k[1], l.sum)
		fmt.Fprintf(w, "batchgate_http_request_duration_seconds_count{method=%q,route=%q} %d\n", k[0], k[1], l.count)
	}
}

func sortedKeys[K [2]string | [3]string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	return keys
}

// serveMetrics writes every metric in the Prometheus text format.
func (s *Server) serveMetrics(c *fiber.Ctx) error {
	var b strings.Builder
	s.metrics.write(&b)
	if s.svc != nil {
		st := s.svc.Stats()
		fmt.Fprintln(&b, "# HELP batchgate_reconcile_ticks_total Reconciler passes.")
		fmt.Fprintln(&b, "# TYPE batchgate_reconcile_ticks_total counter")
		fmt.Fprintf(&b, "batchgate_reconcile_ticks_total %d\n", st.Ticks.Load())
		fmt.Fprintln(&b, "# HELP batchgate_reconcile_errors_total Reconciler passes that failed to read Slurm or the store.")
		fmt.Fprintln(&b, "# TYPE batchgate_reconcile_errors_total counter")
		fmt.Fprintf(&b, "batchgate_reconcile_errors_total %d\n", st.Errors.Load())
		fmt.Fprintln(&b, "# HELP batchgate_reconcile_duration_seconds Time spent in reconciler passes (the poll).")
		fmt.Fprintln(&b, "# TYPE batchgate_reconcile_duration_seconds summary")
		fmt.Fprintf(&b, "batchgate_reconcile_duration_seconds_sum %g\n", float64(st.DurationSumNs.Load())/1e9)
		fmt.Fprintf(&b, "batchgate_reconcile_duration_seconds_count %d\n", st.Ticks.Load())
		if counts, err := s.svc.TaskCounts(c.UserContext()); err == nil {
			fmt.Fprintln(&b, "# HELP batchgate_tasks Tasks by state.")
			fmt.Fprintln(&b, "# TYPE batchgate_tasks gauge")
			states := make([]string, 0, len(counts))
			for st := range counts {
				states = append(states, string(st))
			}
			sort.Strings(states)
			for _, st := range states {
				fmt.Fprintf(&b, "batchgate_tasks{state=%q} %d\n", st, counts[gateway.TaskState(st)])
			}
		}
		fmt.Fprintln(&b, "# HELP batchgate_event_subscribers Open server-sent event streams.")
		fmt.Fprintln(&b, "# TYPE batchgate_event_subscribers gauge")
		fmt.Fprintf(&b, "batchgate_event_subscribers %d\n", s.svc.Events().Subscribers())
	}
	for _, write := range s.opts.Metrics {
		write(&b)
	}
	c.Set(fiber.HeaderContentType, "text/plain; version=0.0.4; charset=utf-8")
	return c.SendString(b.String())
}
