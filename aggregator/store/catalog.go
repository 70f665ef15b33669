package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

const insertPoints = "INSERT INTO points (site_id, point_id, name, description, unit, kind, " +
	"range_low, range_high, ll, l, h, hh, stage1, stage2, deadband, " +
	"hazard_code, hazard_name, hazard_level, equipment, endpoint, node_id, out_of_service, updated_at, " +
	"on_delay_ms, off_delay_ms)"

const insertSites = "INSERT INTO sites (site_id, park, agent_version, updated_at)"

// Catalog is a site and its point list as its agent announced them.
type Catalog struct {
	SiteID, Park, AgentVersion string
	Points                     []*lifelinev1.Point
}

// SaveCatalog records a site and its point list as the agent announced them.
// Rows replace earlier ones with the same key (read them with FINAL); points
// the agent no longer lists are left as they were.
func (s *Store) SaveCatalog(ctx context.Context, siteID, park, agentVersion string, points []*lifelinev1.Point) error {
	return s.SaveCatalogs(ctx, []Catalog{{SiteID: siteID, Park: park, AgentVersion: agentVersion, Points: points}})
}

// SaveCatalogs is SaveCatalog for several sites in two inserts (points,
// sites), so that many agents connecting at once do not each make their
// own parts in ClickHouse.
func (s *Store) SaveCatalogs(ctx context.Context, cats []Catalog) error {
	if len(cats) == 0 {
		return nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	for _, c := range cats {
		if c.SiteID == "" {
			return permanent(fmt.Errorf("save catalog: empty site id"))
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := savePoints(ctx, conn, cats, now); err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, insertSites)
	if err != nil {
		return fmt.Errorf("save site %s: prepare: %w", cats[0].SiteID, err)
	}
	defer batch.Abort()
	for _, c := range cats {
		if err := batch.Append(c.SiteID, c.Park, c.AgentVersion, now); err != nil {
			return permanent(fmt.Errorf("save site %s: %w", c.SiteID, err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save site %s: %w", cats[0].SiteID, err)
	}
	return nil
}

// savePoints inserts the points of every catalog in one insert.
func savePoints(ctx context.Context, conn driver.Conn, cats []Catalog, now time.Time) error {
	n := 0
	for _, c := range cats {
		n += len(c.Points)
	}
	if n == 0 {
		return nil
	}
	batch, err := conn.PrepareBatch(ctx, insertPoints)
	if err != nil {
		return fmt.Errorf("save points of %s: prepare: %w", cats[0].SiteID, err)
	}
	defer batch.Abort()
	for _, c := range cats {
		for i, p := range c.Points {
			if p == nil {
				return permanent(fmt.Errorf("save points of %s: point %d is nil", c.SiteID, i))
			}
			if err := appendPoint(batch, c.SiteID, p, now); err != nil {
				return permanent(fmt.Errorf("save points of %s: point %q: %w", c.SiteID, p.GetId(), err))
			}
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save points of %s: %w", cats[0].SiteID, err)
	}
	return nil
}

func appendPoint(batch driver.Batch, siteID string, p *lifelinev1.Point, now time.Time) error {
	lim := p.GetLimits()
	if lim == nil {
		lim = &lifelinev1.Limits{}
	}
	hz := p.GetHazardSource()
	level := min(hz.GetLevel(), 255)
	var oos uint8
	if p.GetOutOfService() {
		oos = 1
	}
	return batch.Append(siteID, p.GetId(), p.GetName(), p.GetDescription(), p.GetUnit(), p.GetKind(),
		p.RangeLow, p.RangeHigh, lim.LowLow, lim.Low, lim.High, lim.HighHigh, lim.Stage1, lim.Stage2,
		lim.GetDeadband(), hz.GetCode(), hz.GetName(), uint8(level),
		p.GetEquipment(), p.GetEndpoint(), p.GetNodeId(), oos, now,
		delayColumn(lim.OnDelayMs), delayColumn(lim.OffDelayMs))
}

// Site is one enterprise as the sites table knows it.
type Site struct {
	ID   string
	Park string
}

// Sites lists every known site with its park, ordered by site ID.
func (s *Store) Sites(ctx context.Context) ([]Site, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, conn, "list sites", func(rows driver.Rows) (Site, error) {
		var site Site
		err := rows.Scan(&site.ID, &site.Park)
		return site, err
	}, "SELECT site_id, park FROM sites FINAL ORDER BY site_id")
}

// SitePark is where a site's park comes from: the registry's enterprises
// table (Registered, empty when the registry names none) and the park the
// sites table holds for it (Stored).
type SitePark struct {
	InRegistry bool
	Registered string
	Stored     string
}

// SitePark reads the registry's and the stored park of a site.
func (s *Store) SitePark(ctx context.Context, siteID string) (SitePark, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return SitePark{}, err
	}
	const q = "SELECT (SELECT count() FROM enterprises FINAL WHERE site_id = ?), (SELECT any(park) FROM enterprises FINAL WHERE site_id = ?), " +
		"(SELECT any(park) FROM sites FINAL WHERE site_id = ?)"
	var n uint64
	var p SitePark
	if err := conn.QueryRow(ctx, q, siteID, siteID, siteID).Scan(&n, &p.Registered, &p.Stored); err != nil {
		return SitePark{}, fmt.Errorf("read park of %s: %w", siteID, err)
	}
	p.InRegistry = n > 0
	return p, nil
}

// delayColumn stores a point's alarm delay as point_settings does: 0 for
// unset (the aggregator's default), negative for none, else milliseconds.
func delayColumn(ms *int64) int64 {
	switch {
	case ms == nil:
		return 0
	case *ms <= 0:
		return -1
	}
	return *ms
}

// migratePointDelays adds the alarm delays of the point list to a points
// table made before them.
func (s *Store) migratePointDelays(ctx context.Context, conn driver.Conn) error {
	cols, err := tableColumns(ctx, conn, "points")
	if err != nil || len(cols) == 0 {
		return err
	}
	for _, name := range []string{"on_delay_ms", "off_delay_ms"} {
		if cols[name] {
			continue
		}
		if err := conn.Exec(ctx, "ALTER TABLE points ADD COLUMN "+name+" Int64 DEFAULT 0"); err != nil {
			return fmt.Errorf("migrate points: add %s: %w", name, err)
		}
		s.logger.Info("migrated points: added " + name)
	}
	return nil
}
