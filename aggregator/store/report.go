package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// TableReportDeliveries records each daily report sent, so a restart of
// the schedule neither skips nor repeats a day.
const TableReportDeliveries = "report_deliveries"

func reportDDL() string {
	return `CREATE TABLE IF NOT EXISTS report_deliveries (
    park       String,
    day        Date,
    sent_ns    Int64,
    recipients Array(String),
    format     String
) ENGINE = ReplacingMergeTree(sent_ns)
ORDER BY (park, day)`
}

// ReportSite is an enterprise (site) of a park.
type ReportSite struct {
	SiteID, Name, Code string
}

// ReportSites returns the sites of park: the registry's park of a site, or
// the park its agent announced when the registry names none. A non-empty
// site narrows the answer to that site.
func (s *Store) ReportSites(ctx context.Context, park, site string) ([]ReportSite, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, conn, "sites of park "+park, func(rows driver.Rows) (ReportSite, error) {
		var r ReportSite
		err := rows.Scan(&r.SiteID, &r.Name, &r.Code)
		return r, err
	}, `SELECT site_id, name, code FROM (
    SELECT site_id, park AS agent_park FROM sites FINAL
) AS a
ALL FULL OUTER JOIN (
    SELECT site_id, name, enterprise_code AS code, park AS reg_park FROM enterprises FINAL
) AS e USING (site_id)
WHERE if(reg_park != '', reg_park, agent_park) = ? AND (? = '' OR site_id = ?)
ORDER BY site_id`, park, site, site)
}

// ReportAlarm is one alarm as a report reads it.
type ReportAlarm struct {
	SiteID, PointID, Condition string
	Priority                   uint8
	HazardCode                 string
	RaisedNs, ClearedNs        int64 // ClearedNs 0 while active
	Backfill                   bool
}

// ReportAlarms returns the alarms of sites raised in [from, to) and those
// raised before from that were still active at from.
func (s *Store) ReportAlarms(ctx context.Context, sites []string, from, to time.Time) ([]ReportAlarm, error) {
	f, t := from.UnixNano(), to.UnixNano()
	return reportRows(ctx, s, sites, "report alarms", func(rows driver.Rows) (ReportAlarm, error) {
		var (
			a        ReportAlarm
			backfill uint8
		)
		err := rows.Scan(&a.SiteID, &a.PointID, &a.Condition, &a.Priority, &a.HazardCode, &a.RaisedNs, &a.ClearedNs, &backfill)
		a.Backfill = backfill == 1
		return a, err
	}, `SELECT site_id, point_id, condition, priority, hazard_code, raised_ns,
    if(state = 'active', toInt64(0), cleared_ns) AS cleared, backfill
FROM alarm_events FINAL
WHERE has(?, site_id) AND raised_ns < ? AND (raised_ns >= ? OR state = 'active' OR cleared_ns >= ?)
ORDER BY site_id, point_id, condition, raised_ns`, sites, t, f, f)
}

// ReportAcknowledged returns the alarms of sites raised from raisedFrom on
// that were acknowledged (an 'ack' or 'close' action) before `before`.
func (s *Store) ReportAcknowledged(ctx context.Context, sites []string, raisedFrom, before time.Time) (map[AlarmKey]bool, error) {
	// An action comes after its alarm's raise: the bound on at_ns lets the
	// server skip the older monthly partitions.
	from, to := raisedFrom.UnixNano(), before.UnixNano()
	found, err := s.readActedKeys(ctx, actedKeys{what: "acknowledged alarms", actions: []string{ActionAck, ActionClose},
		sites: sites, where: "raised_ns >= ? AND raised_ns < ? AND at_ns >= ? AND at_ns < ?", whereArgs: []any{from, to, from, to}})
	if err != nil {
		return nil, err
	}
	acked := make(map[AlarmKey]bool, len(found))
	for _, k := range found {
		acked[k] = true
	}
	return acked, nil
}

// HazardName is a major hazard source of a site.
type HazardName struct {
	SiteID, Code, Name string
	Level              uint8
}

// ReportHazards returns the hazard sources of sites.
func (s *Store) ReportHazards(ctx context.Context, sites []string) ([]HazardName, error) {
	return reportRows(ctx, s, sites, "hazard sources", func(rows driver.Rows) (HazardName, error) {
		var h HazardName
		err := rows.Scan(&h.SiteID, &h.Code, &h.Name, &h.Level)
		return h, err
	}, `SELECT site_id, code, name, level FROM hazard_sources FINAL
WHERE has(?, site_id) ORDER BY site_id, code`, sites)
}

// SiteOnline is the online rate of a site over an interval (docs/schema.md,
// "Online rate"): DuePoints in service throughout it, OnlineMinutes with a
// good sample or a liveness row.
type SiteOnline struct {
	SiteID        string
	DuePoints     uint64
	OnlineMinutes uint64
}

// reportOnlineSQL is query 07 of docs/schema.md with the interval bound.
const reportOnlineSQL = `SELECT d.site_id, due_points, online_minutes
FROM (
    SELECT site_id, count() AS due_points
    FROM points FINAL
    WHERE has(?, site_id) AND out_of_service = 0 AND (site_id, point_id) NOT IN (
        SELECT site_id, point_id FROM point_out_of_service FINAL
        WHERE deleted = 0 AND from_time < ? AND to_time > ?)
    GROUP BY site_id
) AS d
ANY LEFT JOIN (
    SELECT site_id, toUInt64(uniqExact(point_id, minute)) AS online_minutes
    FROM (
        SELECT site_id, point_id, bucket AS minute
        FROM samples_1m
        WHERE has(?, site_id) AND bucket >= ? AND bucket < ?
        GROUP BY site_id, point_id, bucket
        HAVING countMerge(samples) - sumMerge(bad) > 0
        UNION ALL
        SELECT site_id, point_id, minute
        FROM point_liveness
        WHERE has(?, site_id) AND minute >= ? AND minute < ?
    )
    WHERE (site_id, point_id) IN (
          SELECT site_id, point_id FROM points FINAL WHERE out_of_service = 0)
      AND (site_id, point_id) NOT IN (
          SELECT site_id, point_id FROM point_out_of_service FINAL
          WHERE deleted = 0 AND from_time < ? AND to_time > ?)
    GROUP BY site_id
) AS o USING (site_id)
ORDER BY site_id`

// ReportOnline returns the online figures of sites over [from, to), whole
// minutes. Sites without points in service are absent.
func (s *Store) ReportOnline(ctx context.Context, sites []string, from, to time.Time) ([]SiteOnline, error) {
	f, t := from.UTC().Format(time.DateTime), to.UTC().Format(time.DateTime)
	return reportRows(ctx, s, sites, "online rate", func(rows driver.Rows) (SiteOnline, error) {
		var o SiteOnline
		err := rows.Scan(&o.SiteID, &o.DuePoints, &o.OnlineMinutes)
		return o, err
	}, reportOnlineSQL, sites, t, f, sites, f, t, sites, f, t, t, f)
}

// ReportGap is a span of data an agent lost.
type ReportGap struct {
	SiteID       string
	FromNs, ToNs int64
	Samples      uint64
	Points       int // how many points it names
	Reason       string
	Recovery     string // what history backfill read back: '', full, partial, not_available
	Recovered    uint64
}

// ReportGaps returns the gaps of sites overlapping [from, to).
func (s *Store) ReportGaps(ctx context.Context, sites []string, from, to time.Time) ([]ReportGap, error) {
	return reportRows(ctx, s, sites, "report gaps", func(rows driver.Rows) (ReportGap, error) {
		var (
			g      ReportGap
			points uint64
		)
		err := rows.Scan(&g.SiteID, &g.FromNs, &g.ToNs, &g.Samples, &points, &g.Reason, &g.Recovery, &g.Recovered)
		g.Points = int(points)
		return g, err
	}, `SELECT site_id, from_ns, to_ns, samples, length(point_ids), reason, recovery, recovered
FROM gaps FINAL
WHERE has(?, site_id) AND from_ns < ? AND to_ns >= ?
ORDER BY site_id, from_ns, buffer_id, seq, idx`, sites, to.UnixNano(), from.UnixNano())
}

// ReportOutOfService is a point out of service (停用) at some time in an
// interval: a period of point_out_of_service, or (Flagged) the point
// list's out_of_service flag, which has no period.
type ReportOutOfService struct {
	SiteID, PointID string
	From, To        time.Time // zero for a flagged point; To is OpenEnded while open
	Reason, SetBy   string
	Flagged         bool
}

// ReportOutOfServicePoints returns the 停用 periods of sites overlapping
// [from, to) and the points their point lists mark out of service.
func (s *Store) ReportOutOfServicePoints(ctx context.Context, sites []string, from, to time.Time) ([]ReportOutOfService, error) {
	if len(sites) == 0 {
		return nil, nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	f, t := from.UTC().Format(time.DateTime), to.UTC().Format(time.DateTime)
	const what = "out-of-service points"
	periods, err := queryAll(ctx, conn, what, func(rows driver.Rows) (ReportOutOfService, error) {
		var o ReportOutOfService
		err := rows.Scan(&o.SiteID, &o.PointID, &o.From, &o.To, &o.Reason, &o.SetBy)
		return o, err
	}, `SELECT site_id, point_id, from_time, to_time, reason, set_by
FROM point_out_of_service FINAL
WHERE has(?, site_id) AND deleted = 0 AND from_time < ? AND to_time > ?
ORDER BY site_id, point_id, from_time`, sites, t, f)
	if err != nil {
		return nil, err
	}
	// A second query, not a UNION: points' key columns are LowCardinality
	// where the server has it, and 18.16 finds no common type.
	flagged, err := queryAll(ctx, conn, what, func(rows driver.Rows) (ReportOutOfService, error) {
		o := ReportOutOfService{Flagged: true}
		err := rows.Scan(&o.SiteID, &o.PointID)
		return o, err
	}, `SELECT site_id, point_id FROM points FINAL
WHERE has(?, site_id) AND out_of_service = 1 ORDER BY site_id, point_id`, sites)
	if err != nil {
		return nil, err
	}
	return append(periods, flagged...), nil
}

// ReportDelivered returns the last day (YYYY-MM-DD) a report of park was
// recorded sent, "" if none.
func (s *Store) ReportDelivered(ctx context.Context, park string) (string, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return "", err
	}
	var n uint64
	var day time.Time
	if err := conn.QueryRow(ctx, "SELECT count(), max(day) FROM report_deliveries WHERE park = ?", park).Scan(&n, &day); err != nil {
		return "", fmt.Errorf("report deliveries of %s: %w", park, err)
	}
	if n == 0 {
		return "", nil
	}
	return day.Format(time.DateOnly), nil
}

// SaveReportDelivery records that the report of park for day (YYYY-MM-DD)
// was sent.
func (s *Store) SaveReportDelivery(ctx context.Context, park, day string, recipients []string, format string, at time.Time) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return permanent(fmt.Errorf("report delivery of %s: %w", park, err))
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO report_deliveries (park, day, sent_ns, recipients, format)")
	if err != nil {
		return fmt.Errorf("report delivery of %s: prepare: %w", park, err)
	}
	defer batch.Abort()
	if err := batch.Append(park, d, at.UnixNano(), recipients, format); err != nil {
		return permanent(fmt.Errorf("report delivery of %s: %w", park, err))
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("report delivery of %s %s: %w", park, day, err)
	}
	return nil
}

// reportRows runs q on the rows of sites as queryAll does; no sites read
// no rows.
func reportRows[T any](ctx context.Context, s *Store, sites []string, what string, scan func(driver.Rows) (T, error), q string, args ...any) ([]T, error) {
	if len(sites) == 0 {
		return nil, nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, conn, what, scan, q, args...)
}
