package plantsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// The plant model advances one step per tick. Rates below are per step, so
// a shorter Options.Tick runs the plant faster; the day curve of the tank
// temperatures follows the wall clock.

// chinaTime is the plant's local time, used for the day curve and batch IDs.
var chinaTime = time.FixedZone("CST", 8*3600)

// envelope shapes an excursion: a linear ramp to the peak, a hold, then an
// exponential decay back to normal.
type envelope struct {
	ramp, hold, decay int
	k                 int
}

func newEnvelope() *envelope { return &envelope{ramp: 8, hold: 5, decay: 18} }

// next returns the envelope's value in [0,1] for this step and whether the
// excursion is still running.
func (e *envelope) next() (float64, bool) {
	k := e.k
	e.k++
	switch {
	case k < e.ramp:
		return float64(k+1) / float64(e.ramp), true
	case k < e.ramp+e.hold:
		return 1, true
	case k < e.ramp+e.hold+e.decay:
		return math.Exp(-3 * float64(k-e.ramp-e.hold+1) / float64(e.decay)), true
	default:
		return 0, false
	}
}

type tank struct {
	level, temp, press, tempNoise float64
	pump                          bool
	stopAt, startAt, boost        float64
	iLevel, iTemp, iPress, iPump  int
}

type gas struct {
	spec       gasDetector
	value      float64
	peak       float64
	excursion  *envelope
	index      int
	scaleNoise float64
}

type reactorPhase struct {
	name    string
	steps   int
	tempSet float64
	feedSet float64
	agit    bool
}

var reactorPhases = []reactorPhase{
	{"投料", 30, 25, 0, true},
	{"升温", 40, 80, 0, true},
	{"通氯反应", 150, 85, 180, true},
	{"保温", 40, 84, 0, true},
	{"降温出料", 40, 40, 0, true},
	{"空闲", 20, 25, 0, false},
}

type reactor struct {
	phase, k                                    int
	temp, press, feed                           float64
	agit                                        bool
	batchSeq                                    int
	batch                                       string
	runaway                                     *envelope
	runawayPeak                                 float64
	iTemp, iPress, iFeed, iAgit, iBatch, iPhase int
}

// plant is the process model of the tank farm and the reactor unit. Its
// methods are safe for concurrent use.
type plant struct {
	mu        sync.Mutex
	rng       *rand.Rand
	pStep     float64 // probability of a random excursion per step
	tanks     []*tank
	gases     []*gas
	reactor   *reactor
	targets   []string // point IDs that can take an excursion
	firstStep bool
}

// newPlant builds the model for the given catalog (as returned by
// plantCatalog, possibly followed by load points).
func newPlant(catalog []PointSpec, seed int64, excursionsPerStep float64) *plant {
	idx := make(map[string]int, len(catalog))
	for i, p := range catalog {
		idx[p.ID] = i
	}
	p := &plant{
		rng:       rand.New(rand.NewPCG(uint64(seed), 0x6c6966656c696e65)),
		pStep:     excursionsPerStep,
		firstStep: true,
	}
	for _, id := range tankIDs {
		t := &tank{
			level:  3 + p.rng.Float64()*11,
			pump:   p.rng.IntN(2) == 0,
			press:  1.2,
			iLevel: idx[id+".LT"], iTemp: idx[id+".TT"], iPress: idx[id+".PT"], iPump: idx[id+".PUMP"],
		}
		p.newTankCycle(t)
		p.tanks = append(p.tanks, t)
		p.targets = append(p.targets, id+".LT")
	}
	for _, g := range gasDetectors {
		p.gases = append(p.gases, &gas{spec: g, index: idx[g.id], scaleNoise: g.high * 0.0015})
		p.targets = append(p.targets, g.id)
	}
	p.reactor = &reactor{
		temp: 25, press: 101.3, agit: true,
		iTemp: idx["R201.TT"], iPress: idx["R201.PT"], iFeed: idx["R201.FT"],
		iAgit: idx["R201.AGIT"], iBatch: idx["R201.BATCH"], iPhase: idx["R201.PHASE"],
	}
	p.targets = append(p.targets, "R201.TT")
	return p
}

func (p *plant) newTankCycle(t *tank) {
	t.stopAt = 13 + p.rng.Float64()*2.5
	t.startAt = 2.5 + p.rng.Float64()*1.5
	t.boost = 1
}

// dayTemp is the ambient temperature in °C at time now: coolest around
// 03:00, warmest around 15:00 China time.
func dayTemp(now time.Time) float64 {
	lt := now.In(chinaTime)
	h := float64(lt.Hour()) + float64(lt.Minute())/60 + float64(lt.Second())/3600
	return 18 + 7*math.Sin(2*math.Pi*(h-9)/24)
}

// excursionTargets lists the point IDs that ForceExcursion accepts.
func (p *plant) excursionTargets() []string { return p.targets }

// excite starts an excursion on the point; it reports false for a point
// that cannot take one.
func (p *plant) excite(pointID string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exciteLocked(pointID)
}

func (p *plant) exciteLocked(pointID string) bool {
	for _, g := range p.gases {
		if g.spec.id == pointID {
			g.excursion = newEnvelope()
			g.peak = g.spec.stage1 * (1.15 + p.rng.Float64()*1.45)
			return true
		}
	}
	for i, t := range p.tanks {
		if tankIDs[i]+".LT" == pointID {
			// A wrong valve line-up: the tank keeps filling fast past H,
			// sometimes past HH, before the pump stops.
			t.pump = true
			t.boost = 4
			t.stopAt = tankLevelH + 0.3 + p.rng.Float64()*(tankLevelHigh-tankLevelH-0.8)
			return true
		}
	}
	if pointID == "R201.TT" {
		// Loss of cooling water: temperature and pressure run away and
		// come back when cooling is restored.
		// The peak lands above H (95 °C), about half the time above HH.
		p.reactor.runaway = newEnvelope()
		p.reactor.runawayPeak = math.Max(8, reactorTempH+2+p.rng.Float64()*16-p.reactor.temp)
		return true
	}
	return false
}

// step advances the model by one step and writes each changed value into
// out (indexed like the catalog); entries it leaves nil did not change.
// It returns the IDs of points whose random excursion started this step.
func (p *plant) step(now time.Time, out []any) (started string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := p.firstStep
	p.firstStep = false

	if p.pStep > 0 && p.rng.Float64() < p.pStep {
		id := p.targets[p.rng.IntN(len(p.targets))]
		if p.exciteLocked(id) {
			started = id
		}
	}

	p.stepTanks(dayTemp(now), first, out)
	p.stepGases(out)
	p.stepReactor(now, first, out)
	return started
}

// stepTanks fills and empties the tanks with their pumps; temperatures
// follow the ambient one. p.mu is held.
func (p *plant) stepTanks(ambient float64, first bool, out []any) {
	for i, t := range p.tanks {
		wasPump := t.pump
		if t.pump {
			t.level += (0.02 + p.rng.Float64()*0.01) * t.boost
			if t.level >= t.stopAt {
				t.pump = false
				p.newTankCycle(t)
			}
		} else {
			t.level -= 0.015 + p.rng.Float64()*0.01
			if t.level <= t.startAt {
				t.pump = true
			}
		}
		t.level = clamp(t.level, 0, tankLevelHigh)
		t.tempNoise = 0.9*t.tempNoise + p.rng.NormFloat64()*0.03
		t.temp = ambient + float64(i)*0.3 + t.tempNoise
		target := 1.0 + 0.05*(t.temp-18)
		if t.pump {
			target += 0.8
		}
		t.press += (target-t.press)*0.1 + p.rng.NormFloat64()*0.02
		t.press = clamp(t.press, 0, 10)
		out[t.iLevel] = round3(t.level)
		out[t.iTemp] = round3(t.temp)
		out[t.iPress] = round3(t.press)
		if first || t.pump != wasPump {
			out[t.iPump] = t.pump
		}
	}
}

// stepGases moves the gas detectors: noise, and the excursion running on
// a detector, if any. p.mu is held.
func (p *plant) stepGases(out []any) {
	for _, g := range p.gases {
		v := g.scaleNoise*(1.3+math.Abs(p.rng.NormFloat64())) + math.Abs(p.rng.NormFloat64())*g.scaleNoise*0.3
		if g.excursion != nil {
			env, running := g.excursion.next()
			if running {
				v += env * g.peak * (1 + p.rng.NormFloat64()*0.03)
			} else {
				g.excursion = nil
			}
		}
		g.value = clamp(v, 0, g.spec.high)
		out[g.index] = round3(g.value)
	}
}

// stepReactor runs the reactor's batch phases, and a cooling loss when one
// was started. p.mu is held.
func (p *plant) stepReactor(now time.Time, first bool, out []any) {
	r := p.reactor
	phaseChanged := first
	r.k++
	if r.k >= reactorPhases[r.phase].steps {
		r.k = 0
		r.phase = (r.phase + 1) % len(reactorPhases)
		phaseChanged = true
	}
	if first || (phaseChanged && r.phase == 0) {
		r.batchSeq = r.batchSeq%999 + 1
		r.batch = fmt.Sprintf("B%s-%03d", now.In(chinaTime).Format("20060102"), r.batchSeq)
		out[r.iBatch] = r.batch
	}
	ph := reactorPhases[r.phase]
	if phaseChanged {
		out[r.iPhase] = ph.name
	}
	if first || ph.agit != r.agit {
		r.agit = ph.agit
		out[r.iAgit] = r.agit
	}
	r.temp += (ph.tempSet-r.temp)*0.06 + p.rng.NormFloat64()*0.15
	r.feed += (ph.feedSet - r.feed) * 0.2
	feed := r.feed + p.rng.NormFloat64()*3
	if ph.feedSet == 0 {
		// flowmeter zero drift
		feed = r.feed + math.Abs(p.rng.NormFloat64())*0.2
	}
	var offset float64
	if r.runaway != nil {
		env, running := r.runaway.next()
		if running {
			offset = env * r.runawayPeak
		} else {
			r.runaway = nil
		}
	}
	temp := r.temp + offset
	press := 101.3 + (temp-20)*2.0 + offset*3 + p.rng.NormFloat64()*1.0
	if ph.feedSet > 0 {
		press += 90 * math.Min(1, float64(r.k)/20)
	}
	out[r.iTemp] = round3(clamp(temp, 0, 200))
	out[r.iPress] = round3(clamp(press, 0, 1000))
	out[r.iFeed] = round3(clamp(feed, 0, 400))
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
