package plantsim

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/gopcua/opcua/server"
)

// loadTick is the shortest period of the load goroutine; each tick it
// steps as many points as are due, so N points at R Hz cost N·R updates a
// second without a goroutine or timer per point.
const loadTick = 10 * time.Millisecond

// load drives the extra load points round-robin. It is owned by one
// goroutine.
type load struct {
	vars  []*variable
	rate  float64
	rng   *rand.Rand
	phase []float64
	next  int
}

func newLoad(vars []*variable, rate float64, seed int64) *load {
	l := &load{
		vars:  vars,
		rate:  rate,
		rng:   rand.New(rand.NewPCG(uint64(seed), 0x6c6f6164)),
		phase: make([]float64, len(vars)),
	}
	for i := range l.phase {
		l.phase[i] = l.rng.Float64() * 2 * math.Pi
	}
	return l
}

// value is a slow sine (one minute period, a phase per point) plus noise.
func (l *load) value(i int, now time.Time) float64 {
	t := float64(now.UnixNano()%int64(time.Hour)) / float64(time.Second)
	v := 50 + 40*math.Sin(2*math.Pi*t/60+l.phase[i]) + l.rng.NormFloat64()*0.5
	return round3(clamp(v, 0, loadRangeHigh))
}

// stepAll sets every load point and returns how many changed.
func (l *load) stepAll(now time.Time) int {
	n := 0
	for i, v := range l.vars {
		if v.set(l.value(i, now), now) {
			n++
		}
	}
	return n
}

// runLoad changes each load point Rate times a second until ctx is done.
//
// Changes follow a fixed schedule, the way a DCS scans: change k (of point
// k mod N) is due at start + k/(N·Rate) seconds and carries that time as
// its source timestamp, whenever the tick that makes it runs. So the
// samples of any span of source time number exactly N·Rate a second,
// which is what lets a benchmark check delivery to the sample.
func (s *Sim) runLoad(ctx context.Context, mis *server.MonitoredItemService, l *load) {
	total := float64(len(l.vars)) * l.rate
	interval := max(loadTick, time.Duration(float64(time.Second)/total))
	t := time.NewTicker(interval)
	defer t.Stop()
	changed := make([]*variable, 0, len(l.vars))
	start := time.Now()
	due := func(k uint64) time.Time {
		return start.Add(time.Duration(float64(k) / total * float64(time.Second)))
	}
	// Half a cycle of due changes per tick at most, so that no point
	// changes twice in one notification (it would carry its newest value
	// twice).
	maxBehind := time.Duration(float64(time.Second) / l.rate / 2)
	var k uint64 // the next change
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if behind := now.Sub(due(k)); behind > maxBehind {
			// A long pause: skip what fell due, as a scan cycle overrun does.
			k += uint64((behind - maxBehind).Seconds() * total)
		}
		changed = changed[:0]
		for ; !due(k).After(now); k++ {
			at := due(k)
			if v := l.vars[l.next]; v.set(l.value(l.next, at), at) {
				changed = append(changed, v)
			}
			l.next = (l.next + 1) % len(l.vars)
		}
		s.changes.Add(uint64(len(changed)))
		s.notify(ctx, mis, changed)
	}
}
