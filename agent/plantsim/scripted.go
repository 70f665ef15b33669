package plantsim

import (
	"context"
	"fmt"
	"time"
)

// scriptedCatalog completes the specs of scripted points.
func scriptedCatalog(namespaceURI string, specs []PointSpec) []PointSpec {
	out := make([]PointSpec, len(specs))
	for i, p := range specs {
		p.Range = cloneRange(p.Range)
		p.Limits = cloneLimits(p.Limits)
		if p.Type == "" {
			p.Type = Double
		}
		p.Node = "nsu=" + namespaceURI + ";s=" + p.Identifier
		out[i] = p
	}
	return out
}

// Set gives a scripted point (Options.Scripted) a new value with source
// time at and tells the subscriptions; the node holds it until the next
// Set. Source times of a point must increase: an earlier or equal at is
// moved just after the previous one, as a server would stamp it. A number
// equal to the current one is nudged by 0.001 (a change is a change).
func (s *Sim) Set(pointID string, value any, at time.Time) error {
	v := s.byID[pointID]
	if v == nil || !s.scripted(v) {
		return fmt.Errorf("plantsim: %q is not a scripted point", pointID)
	}
	if !v.set(value, at) {
		return nil
	}
	s.changes.Add(1)
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv != nil {
		// bounded: notify never waits longer than notifyStall
		s.notify(context.Background(), srv.MonitoredItemService, []*variable{v})
	}
	return nil
}

func (s *Sim) scripted(v *variable) bool {
	first := len(s.vars) - len(s.opts.Scripted)
	for _, w := range s.vars[first:] {
		if w == v {
			return true
		}
	}
	return false
}
