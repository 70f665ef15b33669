package alarm

import (
	"math"
	"unique"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// compact returns the configurations of pcs keyed by site and point,
// holding as little memory per point as it can: points configured alike
// share one struct (without their ids; config sets them on a copy),
// and the keys' strings are interned, shared with the state machines'
// keys. Read as ClickHouse returns them, 100,000 points' configurations
// took more than 100 MB of the aggregator at 100 agents; pcs itself is
// not kept.
func compact(pcs []store.PointConfig) map[[2]string]*store.PointConfig {
	out := make(map[[2]string]*store.PointConfig, len(pcs))
	shared := map[configKey]*store.PointConfig{}
	for i := range pcs {
		pc := &pcs[i]
		key := [2]string{intern(pc.SiteID), intern(pc.PointID)}
		k, ok := keyOf(pc)
		if c := shared[k]; ok && c != nil {
			out[key] = c
			continue
		}
		c := *pc
		c.SiteID, c.PointID = "", ""
		c.Kind, c.Unit = intern(c.Kind), intern(c.Unit)
		c.HazardCode, c.Equipment = intern(c.HazardCode), intern(c.Equipment)
		if ok {
			shared[k] = &c
		}
		out[key] = &c
	}
	return out
}

// configKey is a point configuration without its ids, comparable. A
// limit missing (or NaN, which configures none either way) is 0 and its
// bit in set is clear: NaN is never equal to itself as a map key.
type configKey struct {
	kind, unit, hazard, equipment string
	limits                        [6]float64
	set                           uint8
	deadband                      float64
	outOfService                  bool
	on, off, stale                int64
}

// keyOf returns p's configKey; false when p has out-of-service periods,
// which are rare and not shared.
func keyOf(p *store.PointConfig) (configKey, bool) {
	if len(p.OutOfServicePeriods) > 0 {
		return configKey{}, false
	}
	if math.IsNaN(p.Deadband) {
		return configKey{}, false
	}
	k := configKey{kind: p.Kind, unit: p.Unit, hazard: p.HazardCode, equipment: p.Equipment,
		deadband: p.Deadband, outOfService: p.OutOfService,
		on: int64(p.OnDelay), off: int64(p.OffDelay), stale: int64(p.StaleAfter)}
	for i, v := range []*float64{p.LL, p.L, p.H, p.HH, p.Stage1, p.Stage2} {
		if v != nil && !math.IsNaN(*v) {
			k.limits[i] = *v
			k.set |= 1 << i
		}
	}
	return k, true
}

// intern returns one shared copy of s.
func intern(s string) string {
	if s == "" {
		return ""
	}
	return unique.Make(s).Value()
}

// point is what the evaluator holds of one point, in the one map of
// every point: its configuration (nil: not configured, defaults apply,
// shared with points configured alike, see compact) and its state (nil
// until its first sample or checkpoint). One map keyed by site and point,
// rather than one for configurations and one for states, holds a large
// park's points in a fifth less memory, and a pass over the states finds
// each configuration beside its state (BenchmarkPointMemory).
type point struct {
	cfg *store.PointConfig
	m   *machine
}

// configOf returns the configuration cfg of the point key with its ids;
// the zero configuration (defaults, no limits) for a point not configured.
func configOf(key [2]string, cfg *store.PointConfig) store.PointConfig {
	var p store.PointConfig
	if cfg != nil {
		p = *cfg
	}
	p.SiteID, p.PointID = key[0], key[1]
	return p
}

// internKey returns key with its strings interned, as the map's keys are
// stored: a key from a batch or a checkpoint row would keep that
// allocation alive.
func internKey(key [2]string) [2]string { return [2]string{intern(key[0]), intern(key[1])} }
