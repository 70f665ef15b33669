-- columns: alarms, avg_per_10min, max_per_10min, flood_share, chattering, stale
-- ISA-18.2 KPIs over the time range: alarms, average and peak per 10
-- minutes, share of 10-minute intervals in flood (> 10 alarms), chattering
-- alarms (3 or more raises of one point and condition within a minute) and
-- stale alarms (active for more than 24 hours).
SELECT
    toUInt64(sum(n)) AS alarms,
    sum(n) / greatest(1, intDiv(toUInt32($__toTime) - toUInt32($__fromTime), 600)) AS avg_per_10min,
    toUInt64(max(n)) AS max_per_10min,
    countIf(n > 10) / greatest(1, intDiv(toUInt32($__toTime) - toUInt32($__fromTime), 600)) AS flood_share,
    (
        SELECT toUInt64(uniqExact(site_id, point_id, condition))
        FROM
        (
            SELECT site_id, point_id, condition, intDiv(toUInt32(raised_at), 60) AS minute, count() AS raises
            FROM alarm_events FINAL
            WHERE $__timeFilter(raised_at) AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
              AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
            GROUP BY site_id, point_id, condition, minute
            HAVING raises >= 3
        )
    ) AS chattering,
    (
        SELECT toUInt64(count())
        FROM alarm_events FINAL
        WHERE state = 'active' AND raised_at < now() - 86400 AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
          AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
    ) AS stale
FROM
(
    SELECT intDiv(toUInt32(raised_at), 600) AS slot, count() AS n
    FROM alarm_events FINAL
    WHERE $__timeFilter(raised_at) AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
      AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
    GROUP BY slot
)
