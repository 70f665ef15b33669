package pointlist

import (
	"errors"
	"fmt"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// ApplyOptions say how a list goes into a configuration.
type ApplyOptions struct {
	// Source receives the rows without a 数据源/source column; empty
	// means the configuration's only source.
	Source string
	// Merge keeps the source's points the list does not name and updates
	// those it does (same ID, or else same node), instead of replacing
	// all of the source's points: a partial 点表 combines with points
	// found by browse.
	Merge bool
}

// SourceChange counts what a list did to one source's points.
type SourceChange struct {
	Source                        string
	Added, Updated, Kept, Removed int
}

// Applied reports what Apply changed.
type Applied struct {
	Sources []SourceChange
	// DroppedHazards are the hazard sources no point uses any more.
	DroppedHazards []config.HazardSource
}

// Apply puts the list's points and hazard sources into cfg. Hazard
// sources that no point uses afterwards are removed and reported. cfg is
// not validated.
func Apply(cfg *config.Config, list *List, o ApplyOptions) (Applied, error) {
	rows, err := rowsBySource(cfg, list, o.Source)
	if err != nil {
		return Applied{}, err
	}
	var out Applied
	for i := range cfg.Sources {
		if len(rows[i]) == 0 {
			continue
		}
		src := &cfg.Sources[i]
		ch := SourceChange{Source: src.Name}
		if o.Merge {
			src.Points = mergePoints(src.Points, rows[i], &ch)
		} else {
			ch.Added, ch.Removed = len(rows[i]), len(src.Points)
			src.Points = rows[i]
		}
		out.Sources = append(out.Sources, ch)
	}
	for _, h := range list.HazardSources {
		replaced := false
		for k := range cfg.HazardSources {
			if cfg.HazardSources[k].Code == h.Code {
				cfg.HazardSources[k], replaced = h, true
			}
		}
		if !replaced {
			cfg.HazardSources = append(cfg.HazardSources, h)
		}
	}
	out.DroppedHazards = dropUnusedHazards(cfg)
	return out, nil
}

// rowsBySource splits the list's points over cfg's sources: by their
// 数据源 column, else to the named or only source.
func rowsBySource(cfg *config.Config, list *List, source string) ([][]config.Point, error) {
	index := map[string]int{}
	for i, s := range cfg.Sources {
		index[s.Name] = i
	}
	target := -1
	switch {
	case source != "":
		i, ok := index[source]
		if !ok {
			return nil, fmt.Errorf("source %q: not in the configuration", source)
		}
		target = i
	case len(cfg.Sources) == 1:
		target = 0
	}
	rows := make([][]config.Point, len(cfg.Sources))
	for j, p := range list.Points {
		i := target
		if name := list.Sources[j]; name != "" {
			var ok bool
			if i, ok = index[name]; !ok {
				return nil, fmt.Errorf("row %d: source %q is not in the configuration", j+2, name)
			}
		}
		if i < 0 {
			return nil, errors.New("the configuration has several sources: name one with --source or give the list a 数据源 (source) column")
		}
		rows[i] = append(rows[i], p)
	}
	return rows, nil
}

// mergePoints updates the points the list names (by ID, or else by node,
// so that a 点表 row renames a browsed point instead of reading its node
// twice), keeps the others in place, and appends the new ones.
func mergePoints(have, list []config.Point, ch *SourceChange) []config.Point {
	byID, byNode := map[string]int{}, map[string]int{}
	for i, p := range have {
		byID[p.ID] = i
		byNode[p.Node] = i
	}
	out := append([]config.Point(nil), have...)
	updated := map[int]bool{}
	for _, p := range list {
		i, ok := byID[p.ID]
		if !ok {
			i, ok = byNode[p.Node]
		}
		if ok && !updated[i] {
			out[i], updated[i] = p, true
			ch.Updated++
			continue
		}
		out = append(out, p)
		ch.Added++
	}
	ch.Kept = len(have) - ch.Updated
	return out
}

// dropUnusedHazards removes the hazard sources no point names and returns
// them.
func dropUnusedHazards(cfg *config.Config) []config.HazardSource {
	used := map[string]bool{}
	for _, s := range cfg.Sources {
		for _, p := range s.Points {
			used[p.HazardSource] = true
		}
	}
	var keep, dropped []config.HazardSource
	for _, h := range cfg.HazardSources {
		if used[h.Code] {
			keep = append(keep, h)
		} else {
			dropped = append(dropped, h)
		}
	}
	cfg.HazardSources = keep
	return dropped
}
