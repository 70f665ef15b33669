package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Registry tables: what each site, hazard source, piece of equipment and
// point is, with history. The agents' catalogs fill points (and through
// point_versions_mv, point_versions); the aggregator's registry file fills
// enterprises, hazard_sources, equipment and out-of-service periods.
const (
	TableEnterprises       = "enterprises"
	TableHazardSources     = "hazard_sources"
	TableEquipment         = "equipment"
	TablePointVersions     = "point_versions"
	ViewPointVersions      = "point_versions_mv"
	TablePointOutOfService = "point_out_of_service"
	TablePointSettings     = "point_settings"
)

// OpenEnded is the to_time of an out-of-service period without an end.
const OpenEnded = "2100-01-01 00:00:00"

func registryDDL(caps Capabilities) []string {
	lc := lowCardinality(caps)
	enterprises := `CREATE TABLE IF NOT EXISTS enterprises (
    site_id         String,
    enterprise_code String,
    name            String,
    park            String,
    updated_ns      UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY site_id`

	hazardSources := `CREATE TABLE IF NOT EXISTS hazard_sources (
    site_id    String,
    code       String,
    name       String,
    level      UInt8,
    unit_type  Enum8('unknown' = 0, 'tank_farm' = 1, 'warehouse' = 2, 'production_unit' = 3),
    updated_ns UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (site_id, code)`

	equipment := `CREATE TABLE IF NOT EXISTS equipment (
    site_id     String,
    equipment   String,
    type        String,
    medium      String,
    hazard_code String,
    updated_ns  UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (site_id, equipment)`

	// One row per distinct configuration of a point: a changed limit is a
	// new version, the old one stays. version is a hash of every
	// configured field; first_seen/last_seen say when it was announced.
	pointVersions := `CREATE TABLE IF NOT EXISTS point_versions (
    site_id        ` + lc("String") + `,
    point_id       String,
    version        UInt64,
    name           String,
    description    String,
    unit           String,
    kind           ` + lc("String") + `,
    range_low      Nullable(Float64),
    range_high     Nullable(Float64),
    ll             Nullable(Float64),
    l              Nullable(Float64),
    h              Nullable(Float64),
    hh             Nullable(Float64),
    stage1         Nullable(Float64),
    stage2         Nullable(Float64),
    deadband       Float64,
    hazard_code    String,
    equipment      String,
    out_of_service UInt8,
    first_seen     AggregateFunction(min, DateTime('UTC')),
    last_seen      AggregateFunction(max, DateTime('UTC'))
) ENGINE = AggregatingMergeTree
ORDER BY (site_id, point_id, version)`
	if caps.DimensionsSetting {
		pointVersions += "\nSETTINGS allow_dimensions_outside_sorting_key = 1"
	}

	n := func(c string) string { return "ifNull(toString(" + c + "), '-')" }
	pointVersionsMV := `CREATE MATERIALIZED VIEW IF NOT EXISTS point_versions_mv TO point_versions AS
SELECT site_id, point_id,
    cityHash64(name, description, unit, kind, ` + n("range_low") + `, ` + n("range_high") + `,
        ` + n("ll") + `, ` + n("l") + `, ` + n("h") + `, ` + n("hh") + `, ` + n("stage1") + `, ` + n("stage2") + `,
        toString(deadband), hazard_code, equipment, toString(out_of_service)) AS version,
    name, description, unit, kind, range_low, range_high, ll, l, h, hh, stage1, stage2,
    deadband, hazard_code, equipment, out_of_service,
    minState(updated_at) AS first_seen, maxState(updated_at) AS last_seen
FROM points
GROUP BY site_id, point_id, version, name, description, unit, kind, range_low, range_high,
    ll, l, h, hh, stage1, stage2, deadband, hazard_code, equipment, out_of_service`

	// 停用: a point out of service from from_time until to_time (OpenEnded
	// when open). A period is changed by writing its key again with a
	// larger updated_ns; deleted = 1 withdraws it.
	outOfService := `CREATE TABLE IF NOT EXISTS point_out_of_service (
    site_id    String,
    point_id   String,
    from_time  DateTime('UTC'),
    to_time    DateTime('UTC'),
    reason     String,
    set_by     String,
    deleted    UInt8,
    updated_ns UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (site_id, point_id, from_time)`

	// Per-point alarm timing from the registry file, in ms; 0 means "use
	// the aggregator's default", a negative value "off".
	settings := `CREATE TABLE IF NOT EXISTS point_settings (
    site_id        String,
    point_id       String,
    on_delay_ms    Int64,
    off_delay_ms   Int64,
    stale_after_ms Int64,
    updated_ns     UInt64
) ENGINE = ReplacingMergeTree(updated_ns)
ORDER BY (site_id, point_id)`

	return []string{enterprises, hazardSources, equipment, pointVersions, pointVersionsMV, outOfService, settings}
}

// PointConfig is what alarm evaluation needs to know about a point.
type PointConfig struct {
	SiteID, PointID       string
	Kind, Unit            string
	HazardCode, Equipment string
	LL, L, H, HH          *float64
	Stage1, Stage2        *float64
	Deadband              float64
	OutOfService          bool
	OutOfServicePeriods   []Period
	// Alarm timing of this point; 0 takes the evaluator's default and a
	// negative value turns the delay or the staleness check off.
	OnDelay, OffDelay, StaleAfter time.Duration
}

// Period is a half-open span [From, To) of Unix nanoseconds.
type Period struct{ From, To int64 }

// Contains reports whether ns is inside p.
func (p Period) Contains(ns int64) bool { return p.From <= ns && ns < p.To }

// OutOfServicePeriod is one 停用 period of a point.
type OutOfServicePeriod struct {
	SiteID, PointID string
	From, To        time.Time // zero To: open-ended
	Reason, SetBy   string
	Deleted         bool
}

// PointConfigs returns the current configuration of every point with its
// out-of-service periods.
func (s *Store) PointConfigs(ctx context.Context) ([]PointConfig, error) {
	return s.pointConfigs(ctx, "")
}

// SitesPointConfigs is PointConfigs of the points of sites only, read in
// one set of queries per sitesPerQuery sites: what a site that has just
// announced its points needs, without re-reading a whole park's.
func (s *Store) SitesPointConfigs(ctx context.Context, sites []string) ([]PointConfig, error) {
	var out []PointConfig
	for chunk := range slices.Chunk(sites, sitesPerQuery) {
		pcs, err := s.pointConfigs(ctx, "site_id IN ?", inSet(chunk))
		if err != nil {
			return nil, err
		}
		out = append(out, pcs...)
	}
	return out, nil
}

// ChangedSites returns the sites with a point whose configuration was
// written at or after since (aggregator clock): its point list, its
// registry settings or a 停用 period. A refresh of those sites' points
// (SitesPointConfigs) is what a refresh of every point would change, when
// since leaves room for inserts in flight and other aggregators' clocks.
//
// Each site comes with a fingerprint of those rows (their count and their
// keys' and times' hashes): a site whose fingerprint is the same as at
// the last call had no row added since, and need not be read again. A
// merge of duplicates, or a row leaving the window, changes it too; that
// costs a read, never a change missed.
func (s *Store) ChangedSites(ctx context.Context, since time.Time) (map[string]uint64, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	sec, ns := since.Unix(), uint64(max(since.UnixNano(), 0))
	out := map[string]uint64{}
	// Three queries, not one UNION: site_id is LowCardinality in points
	// and not in the others, which ClickHouse 18.16 cannot unite.
	for i, q := range []struct {
		sql   string
		since any
	}{
		{"SELECT site_id, count(), sum(cityHash64(point_id, updated_at)) FROM points WHERE updated_at >= toDateTime(?) GROUP BY site_id", sec},
		{"SELECT site_id, count(), sum(cityHash64(point_id, updated_ns)) FROM point_settings WHERE updated_ns >= ? GROUP BY site_id", ns},
		{"SELECT site_id, count(), sum(cityHash64(point_id, from_time, updated_ns)) FROM point_out_of_service WHERE updated_ns >= ? GROUP BY site_id", ns},
	} {
		err := queryEach(ctx, conn, "read sites with changed points", func(rows driver.Rows) error {
			var site string
			var n, sum uint64
			if err := rows.Scan(&site, &n, &sum); err != nil {
				return err
			}
			out[site] = (out[site]^uint64(i+1))*0x100000001b3 ^ (sum + n*0x9e3779b97f4a7c15)
			return nil
		}, q.sql, q.since)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pointConfigs reads the configurations of the points where (a condition
// on site_id; "" for all) selects.
func (s *Store) pointConfigs(ctx context.Context, where string, args ...any) ([]PointConfig, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	and, filter := "", ""
	if where != "" {
		and, filter = " AND "+where, " WHERE "+where
	}
	var out []PointConfig
	index := map[[2]string]int{}
	err = queryEach(ctx, conn, "read points", func(rows driver.Rows) error {
		var p PointConfig
		var oos uint8
		var on, off int64
		if err := rows.Scan(&p.SiteID, &p.PointID, &p.Kind, &p.Unit, &p.HazardCode, &p.Equipment,
			&p.LL, &p.L, &p.H, &p.HH, &p.Stage1, &p.Stage2, &p.Deadband, &oos, &on, &off); err != nil {
			return err
		}
		p.OutOfService = oos == 1
		p.OnDelay, p.OffDelay = time.Duration(on)*time.Millisecond, time.Duration(off)*time.Millisecond
		index[[2]string{p.SiteID, p.PointID}] = len(out)
		out = append(out, p)
		return nil
	}, `SELECT site_id, point_id, kind, unit, hazard_code, equipment,
    ll, l, h, hh, stage1, stage2, deadband, out_of_service, on_delay_ms, off_delay_ms
FROM points FINAL`+filter, args...)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	if err := applyPointSettings(ctx, conn, out, index, filter, args); err != nil {
		return nil, err
	}
	if err := applyOutOfService(ctx, conn, out, index, and, args); err != nil {
		return nil, err
	}
	return out, nil
}

// applyPointSettings lays the registry's per-point settings over out.
func applyPointSettings(ctx context.Context, conn driver.Conn, out []PointConfig, index map[[2]string]int, filter string, args []any) error {
	return queryEach(ctx, conn, "read point settings", func(rows driver.Rows) error {
		var site, point string
		var on, off, stale int64
		if err := rows.Scan(&site, &point, &on, &off, &stale); err != nil {
			return err
		}
		if i, ok := index[[2]string{site, point}]; ok {
			// The point list holds a point's delays; the registry's
			// apply only where the list leaves them to the default.
			if out[i].OnDelay == 0 {
				out[i].OnDelay = time.Duration(on) * time.Millisecond
			}
			if out[i].OffDelay == 0 {
				out[i].OffDelay = time.Duration(off) * time.Millisecond
			}
			out[i].StaleAfter = time.Duration(stale) * time.Millisecond
		}
		return nil
	}, `SELECT site_id, point_id, on_delay_ms, off_delay_ms, stale_after_ms FROM point_settings FINAL`+filter, args...)
}

// applyOutOfService adds each point's 停用 periods to out.
func applyOutOfService(ctx context.Context, conn driver.Conn, out []PointConfig, index map[[2]string]int, and string, args []any) error {
	return queryEach(ctx, conn, "read out-of-service periods", func(rows driver.Rows) error {
		var site, point string
		var from, to int64
		if err := rows.Scan(&site, &point, &from, &to); err != nil {
			return err
		}
		if i, ok := index[[2]string{site, point}]; ok {
			out[i].OutOfServicePeriods = append(out[i].OutOfServicePeriods, Period{From: from * 1e9, To: to * 1e9})
		}
		return nil
	}, `SELECT site_id, point_id, toInt64(from_time), toInt64(to_time)
FROM point_out_of_service FINAL WHERE deleted = 0`+and+` ORDER BY site_id, point_id, from_time`, args...)
}

// SaveOutOfService records 停用 periods; a period with the same site, point
// and From replaces the earlier one.
func (s *Store) SaveOutOfService(ctx context.Context, periods []OutOfServicePeriod) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO point_out_of_service (site_id, point_id, from_time, to_time, reason, set_by, deleted, updated_ns)")
	if err != nil {
		return fmt.Errorf("save out-of-service periods: prepare: %w", err)
	}
	defer batch.Abort()
	open, _ := time.Parse(time.DateTime, OpenEnded)
	version := uint64(time.Now().UnixNano())
	for _, p := range periods {
		if p.SiteID == "" || p.PointID == "" || p.From.IsZero() {
			return permanent(fmt.Errorf("save out-of-service period %q/%q: site, point and from are required", p.SiteID, p.PointID))
		}
		to := p.To
		if to.IsZero() {
			to = open
		}
		var deleted uint8
		if p.Deleted {
			deleted = 1
		}
		if err := batch.Append(p.SiteID, p.PointID, p.From.UTC(), to.UTC(), p.Reason, p.SetBy, deleted, version); err != nil {
			return permanent(fmt.Errorf("save out-of-service periods: %w", err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("save out-of-service periods: %w", err)
	}
	return nil
}

// Enterprise, HazardSource and Equipment are registry entries.
type (
	Enterprise struct {
		SiteID, Code, Name, Park string
	}
	HazardSource struct {
		SiteID, Code, Name string
		Level              uint8
		// UnitType is tank_farm, warehouse, production_unit or unknown.
		UnitType string
	}
	Equipment struct {
		SiteID, Name, Type, Medium, HazardCode string
	}
)

// PointSettings is a point's alarm timing; see PointConfig.
type PointSettings struct {
	SiteID, PointID               string
	OnDelay, OffDelay, StaleAfter time.Duration
}

// SaveRegistry writes registry entries; each replaces the earlier entry
// with the same key.
func (s *Store) SaveRegistry(ctx context.Context, ents []Enterprise, hazards []HazardSource, equip []Equipment, settings []PointSettings) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	version := uint64(time.Now().UnixNano())
	insert := func(query string, n int, row func(i int) []any) error {
		if n == 0 {
			return nil
		}
		batch, err := conn.PrepareBatch(ctx, query)
		if err != nil {
			return fmt.Errorf("save registry: prepare: %w", err)
		}
		defer batch.Abort()
		for i := range n {
			if err := batch.Append(row(i)...); err != nil {
				return permanent(fmt.Errorf("save registry: %w", err))
			}
		}
		if err := batch.Send(); err != nil {
			return fmt.Errorf("save registry: %w", err)
		}
		return nil
	}
	if err := insert("INSERT INTO enterprises (site_id, enterprise_code, name, park, updated_ns)", len(ents), func(i int) []any {
		e := ents[i]
		return []any{e.SiteID, e.Code, e.Name, e.Park, version}
	}); err != nil {
		return err
	}
	for _, h := range hazards {
		switch h.UnitType {
		case "", "unknown", "tank_farm", "warehouse", "production_unit":
		default:
			return permanent(fmt.Errorf("hazard source %s/%s: unit type %q: want tank_farm, warehouse or production_unit", h.SiteID, h.Code, h.UnitType))
		}
	}
	if err := insert("INSERT INTO hazard_sources (site_id, code, name, level, unit_type, updated_ns)", len(hazards), func(i int) []any {
		h := hazards[i]
		ut := h.UnitType
		if ut == "" {
			ut = "unknown"
		}
		return []any{h.SiteID, h.Code, h.Name, h.Level, ut, version}
	}); err != nil {
		return err
	}
	if err := insert("INSERT INTO equipment (site_id, equipment, type, medium, hazard_code, updated_ns)", len(equip), func(i int) []any {
		e := equip[i]
		return []any{e.SiteID, e.Name, e.Type, e.Medium, e.HazardCode, version}
	}); err != nil {
		return err
	}
	return insert("INSERT INTO point_settings (site_id, point_id, on_delay_ms, off_delay_ms, stale_after_ms, updated_ns)", len(settings), func(i int) []any {
		p := settings[i]
		return []any{p.SiteID, p.PointID, p.OnDelay.Milliseconds(), p.OffDelay.Milliseconds(), p.StaleAfter.Milliseconds(), version}
	})
}
