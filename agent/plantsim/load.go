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
func (s *Sim) runLoad(ctx context.Context, mis *server.MonitoredItemService, l *load) {
	total := float64(len(l.vars)) * l.rate
	interval := max(loadTick, time.Duration(float64(time.Second)/total))
	t := time.NewTicker(interval)
	defer t.Stop()
	changed := make([]*variable, 0, len(l.vars))
	last := time.Now()
	due := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		due += now.Sub(last).Seconds() * total
		last = now
		n := int(due)
		if n >= len(l.vars) {
			// Behind (or a long pause): step every point once, forget the rest.
			n, due = len(l.vars), 0
		} else {
			due -= float64(n)
		}
		changed = changed[:0]
		for range n {
			v := l.vars[l.next]
			if v.set(l.value(l.next, now), now) {
				changed = append(changed, v)
			}
			l.next = (l.next + 1) % len(l.vars)
		}
		s.changes.Add(uint64(len(changed)))
		s.notify(ctx, mis, changed)
	}
}
