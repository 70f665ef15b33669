package store

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

	return []string{enterprises, hazardSources, equipment, pointVersions, pointVersionsMV, outOfService}
}
