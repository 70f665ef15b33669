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
// k mod N) falls due at start + k/(N·Rate) seconds, and its source
// timestamp is the start of the loadTick slot it falls in, so the points
// scanned in one slot share a timestamp as a controller's scan group does
// (which is also what lets ClickHouse compress timestamps). start is a
// multiple of loadTick in Unix time, so every whole slot holds exactly
// N·Rate·loadTick changes: a benchmark can count delivery to the sample.
func (s *Sim) runLoad(ctx context.Context, mis *server.MonitoredItemService, l *load) {
	total := float64(len(l.vars)) * l.rate
	interval := max(loadTick, time.Duration(float64(time.Second)/total))
	t := time.NewTicker(interval)
	defer t.Stop()
	changed := make([]*variable, 0, len(l.vars))
	start := time.Now().Truncate(loadTick)
	// In whole nanoseconds when the rate is a whole number of changes a
	// second, so that slot boundaries fall exactly where they should.
	perSecond := uint64(total)
	due := func(k uint64) time.Time {
		if perSecond > 0 && float64(perSecond) == total {
			return start.Add(time.Duration(k/perSecond)*time.Second + time.Duration((k%perSecond)*uint64(time.Second)/perSecond))
		}
		return start.Add(time.Duration(float64(k) / total * float64(time.Second)))
	}
	// A notification carries at most half a cycle of changes, so that no
	// point changes twice in one (it would carry its newest value twice);
	// a tick that finds more due sends several.
	perNotify := uint64(max(1, len(l.vars)/2))
	// Only a long pause (a suspended process) is skipped, as a scan cycle
	// overrun is; shorter delays are caught up in full. Caught-up changes
	// reach subscribers only as far as their server keeps them: gopcua's
	// keeps the newest value per item between publishes, so after a stall
	// longer than the change period a subscriber sees each point's last
	// value of the stall.
	const maxBehind = 5 * time.Second
	var k uint64 // the next change
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		if behind := now.Sub(due(k)); behind > maxBehind {
			k += uint64((behind - maxBehind).Seconds() * total)
		}
		changed = changed[:0]
		for first := k; !due(k).After(now); k++ {
			if k-first == perNotify {
				s.changes.Add(uint64(len(changed)))
				s.notify(ctx, mis, changed)
				changed, first = changed[:0], k
			}
			at := due(k).Truncate(loadTick)
			i := int(k % uint64(len(l.vars)))
			if v := l.vars[i]; v.set(l.value(i, at), at) {
				changed = append(changed, v)
			}
		}
		s.changes.Add(uint64(len(changed)))
		s.notify(ctx, mis, changed)
	}
}
