package plantsim

import (
	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// Site of the simulated plant in agent configurations.
const (
	SiteName = "示例化工有限公司"
	SitePark = "示例化工园区"
	// SourceName names the simulator's source in agent configurations.
	SourceName = "plantsim"
)

// AgentConfig returns an agent configuration that reads every point of the
// simulator at Endpoint() and sends to the aggregator at aggregatorAddr in
// plain text (insecure: demo and rehearsal on one machine), buffering in
// bufferDir. With valid arguments it passes config.Validate.
func (s *Sim) AgentConfig(aggregatorAddr, bufferDir, siteID string) config.Config {
	cfg := config.Default()
	cfg.Site = config.Site{ID: siteID, Name: SiteName, Park: SitePark}
	cfg.Aggregator.Address = aggregatorAddr
	cfg.Aggregator.TLS.Insecure = true
	cfg.Buffer.Dir = bufferDir
	cfg.HazardSources = s.HazardSources()

	src := config.Source{Name: SourceName, Endpoint: s.Endpoint()}
	config.SourceDefaults(&src)
	src.Points = make([]config.Point, 0, len(s.catalog))
	for _, p := range s.catalog {
		src.Points = append(src.Points, config.Point{
			ID:           p.ID,
			Name:         p.Name,
			Description:  p.Description,
			Unit:         p.Unit,
			Kind:         p.Kind,
			Node:         p.Node,
			Range:        cloneRange(p.Range),
			Limits:       cloneLimits(p.Limits),
			HazardSource: p.HazardSource,
			Equipment:    p.Equipment,
		})
	}
	cfg.Sources = []config.Source{src}
	return cfg
}

func cloneRange(r *config.Range) *config.Range {
	if r == nil {
		return nil
	}
	c := *r
	return &c
}

func cloneLimits(l *config.Limits) *config.Limits {
	if l == nil {
		return nil
	}
	c := *l
	for _, p := range []**float64{&c.LowLow, &c.Low, &c.High, &c.HighHigh, &c.Stage1, &c.Stage2} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	for _, p := range []**config.Duration{&c.OnDelay, &c.OffDelay} {
		if *p != nil {
			v := **p
			*p = &v
		}
	}
	return &c
}
