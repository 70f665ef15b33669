// Package memwatch tells when the soft memory limit, rather than the load,
// makes garbage collection a large share of the aggregator's work.
package memwatch

import (
	"math"
	"regexp"
	"runtime/metrics"
	"strings"

	aggmetrics "github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/proto/obs/scrape"
)

// The thresholds of a tight limit. Near its limit Go collects whenever
// the heap grows by what the live heap leaves free: with ~280 MB live
// under 400 MiB the collector took about half the aggregator's CPU, and
// loaded agents beside 1,000 idle ones kept 0.59 of their rate against
// 0.83 with the limit raised out of the way (make bench, docs/scaling.md).
// A live heap under half the limit lets the heap double as GOGC asks:
// the collector's share then follows the garbage the load makes, which a
// larger limit does not change.
const (
	TightShare = 0.35 // of the CPU the process used
	TightLive  = 0.5  // of the limit
)

// noLimit is what the runtime reports without a memory limit.
const noLimit = math.MaxInt64

// Reading is the runtime's cumulative CPU accounting and its heap at one
// moment. The CPU figures are the runtime's own estimates: comparable with
// each other, not with the operating system's.
type Reading struct {
	GCSeconds   float64 // spent collecting, assists included
	BusySeconds float64 // all the processors' time less their idle time
	LiveBytes   float64 // heap marked live by the last collection
	LimitBytes  float64 // the soft memory limit; 0 when there is none
}

// runtimeNames are the runtime/metrics a Reading needs, in reading's
// order; the Go collector exports them under the names FromMetrics reads.
var runtimeNames = []string{
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/cpu/classes/idle:cpu-seconds",
	"/gc/heap/live:bytes",
	"/gc/gomemlimit:bytes",
}

// RuntimeMetrics is a pattern matching exactly the runtime/metrics names a
// Reading needs, for the Go collector to export them.
func RuntimeMetrics() *regexp.Regexp {
	quoted := make([]string, len(runtimeNames))
	for i, n := range runtimeNames {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return regexp.MustCompile("^(" + strings.Join(quoted, "|") + ")$")
}

// Read takes a Reading of this process.
func Read() Reading {
	s := make([]metrics.Sample, len(runtimeNames))
	for i, n := range runtimeNames {
		s[i].Name = n
	}
	metrics.Read(s)
	value := func(i int) float64 {
		switch s[i].Value.Kind() {
		case metrics.KindFloat64:
			return s[i].Value.Float64()
		case metrics.KindUint64:
			return float64(s[i].Value.Uint64())
		}
		return 0
	}
	return reading(value(0), value(1), value(2), value(3), value(4))
}

// FromMetrics takes a Reading from a scrape of the aggregator's /metrics;
// false when the scrape lacks the runtime's series (an older aggregator).
func FromMetrics(m scrape.Values) (Reading, bool) {
	names := []string{aggmetrics.GoGCCPUSecondsTotal, aggmetrics.GoCPUSecondsTotal, aggmetrics.GoIdleCPUSecondsTotal,
		aggmetrics.GoHeapLiveBytes, aggmetrics.GoMemoryLimitBytes}
	for _, n := range names {
		if _, ok := m[n]; !ok {
			return Reading{}, false
		}
	}
	return reading(m[names[0]], m[names[1]], m[names[2]], m[names[3]], m[names[4]]), true
}

func reading(gc, total, idle, live, lim float64) Reading {
	if lim >= noLimit {
		lim = 0
	}
	return Reading{GCSeconds: gc, BusySeconds: total - idle, LiveBytes: live, LimitBytes: lim}
}

// Pressure is the collector's work between two readings.
type Pressure struct {
	GCShare    float64 // of the CPU the process used
	LiveBytes  float64 // at the later reading
	LimitBytes float64 // 0: no limit
}

// Between is the pressure from prev to cur; false when the runtime
// accounted no CPU in between (it does so at each collection's end).
func Between(prev, cur Reading) (Pressure, bool) {
	busy := cur.BusySeconds - prev.BusySeconds
	if busy <= 0 {
		return Pressure{}, false
	}
	share := max(cur.GCSeconds-prev.GCSeconds, 0) / busy
	return Pressure{GCShare: min(share, 1), LiveBytes: cur.LiveBytes, LimitBytes: cur.LimitBytes}, true
}

// SinceStart is the pressure over the process's life up to r.
func SinceStart(r Reading) (Pressure, bool) { return Between(Reading{}, r) }

// Tight reports whether the limit drives the collector: a large share of
// the CPU collecting while the live heap fills much of the limit. Raising
// memory_limit then buys CPU back.
func (p Pressure) Tight() bool {
	return p.LimitBytes > 0 && p.GCShare >= TightShare && p.LiveBytes >= TightLive*p.LimitBytes
}
