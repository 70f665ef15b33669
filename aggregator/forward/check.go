package forward

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// TargetCheck is what `forwarder check` reports of a target.
type TargetCheck struct {
	Name   string
	Sites  int // reported sites
	Points int // reported points
	// UnmappedSites lack an enterprise code; UnmappedPoints ("site/point")
	// a point code. Neither is sent.
	UnmappedSites  []string
	UnmappedPoints []string
	// Problems are templates that do not parse, do not render with the
	// registry's data, or render JSON that does not parse.
	Problems []string
	// Started: the target has a real-time cursor; Live is where it is,
	// BacklogS the missed time still to send, Gaps the forward_gaps rows.
	Started  bool
	Live     time.Time
	BacklogS float64
	Gaps     int
}

// OK reports whether the target sends everything it is meant to.
func (c TargetCheck) OK() bool {
	return len(c.UnmappedSites) == 0 && len(c.UnmappedPoints) == 0 && len(c.Problems) == 0
}

// Check reads the registry and codes of every target and renders one
// message of each kind with them; it sends nothing.
func Check(ctx context.Context, cfg Config, st Store) ([]TargetCheck, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, err := st.BaseData(ctx)
	if err != nil {
		return nil, err
	}
	var out []TargetCheck
	for _, t := range cfg.Targets {
		t = t.withDefaults()
		codes, err := st.ForwardCodes(ctx, t.Name)
		if err != nil {
			return nil, err
		}
		book := newCodeBook(codes)
		reg := buildRegistry(t, base, book)
		c := TargetCheck{Name: t.Name, Sites: len(reg.sites), UnmappedSites: reg.unmappedSites, UnmappedPoints: reg.unmappedPoints}
		for _, si := range reg.sites {
			c.Points += len(si.points)
		}
		c.Problems = checkTemplates(t, reg, book)
		if err := progress(ctx, st, &c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// progress fills in the target's cursor and gap count.
func progress(ctx context.Context, st Store, c *TargetCheck) error {
	cur, err := st.ForwardCursors(ctx, c.Name)
	if err != nil {
		return err
	}
	if rt, ok := cur[KindRealtime]; ok {
		c.Started, c.Live, c.BacklogS = true, time.Unix(0, rt.LiveNs), rt.BacklogS
	}
	gaps, err := st.ForwardGaps(ctx, c.Name)
	c.Gaps = len(gaps)
	return err
}

func checkTemplates(t Target, reg registry, book *codeBook) []string {
	loc, err := time.LoadLocation(t.Location)
	if err != nil {
		return []string{err.Error()}
	}
	var codes atomic.Pointer[codeBook]
	codes.Store(book)
	tpl, err := loadTemplates(t, loc, &codes)
	if err != nil {
		return []string{err.Error()}
	}
	now := time.Now().Truncate(time.Second)
	ent := Enterprise{SiteID: "SITE", Code: "CODE", Name: "示例企业"}
	var base Base
	pt := Point{PointID: "T101.LT", Code: "POINTCODE", Name: "示例位号", Unit: "m"}
	if sites := sortedKeys(reg.sites); len(sites) > 0 {
		si := reg.sites[sites[0]]
		ent, base = si.ent, si.base
		if ids := sortedKeys(si.points); len(ids) > 0 {
			pt = si.points[ids[0]]
		}
	}
	msgs := map[string]*Message{
		KindBase: {Base: &base},
		KindRealtime: {Part: 1, Parts: 1, Values: []Value{{Key: "k", PointID: pt.PointID, Code: pt.Code, Name: pt.Name,
			Unit: pt.Unit, Time: now, Value: 1.5, Type: "number", Good: true}}},
		KindAlarm:     {Alarm: &Alarm{Key: "k", PointID: pt.PointID, Code: pt.Code, Condition: "HH", RaisedAt: now, Value: 2, Limit: 1}},
		KindHeartbeat: {},
	}
	var problems []string
	for _, kind := range Kinds {
		if tpl.dest[kind] == nil {
			continue
		}
		m := msgs[kind]
		m.Kind, m.Key, m.Target, m.Time, m.Now, m.Enterprise = kind, "key", t.Name, now, now, ent
		dest, payload, err := tpl.render(m)
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case dest == "":
			problems = append(problems, fmt.Sprintf("%s: destination renders empty", kind))
		case len(payload) > 0 && (payload[0] == '{' || payload[0] == '[') && !json.Valid(payload):
			problems = append(problems, fmt.Sprintf("%s: payload is not valid JSON: %.200s", kind, payload))
		}
	}
	return problems
}
