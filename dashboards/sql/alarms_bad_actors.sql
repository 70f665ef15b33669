-- columns: site_id, point_id, condition, raises, max_per_minute, total_active_s
-- Bad actors: the points and conditions that raised the most alarms in the
-- time range; a peak of 3 or more a minute is chattering.
SELECT site_id, point_id, condition, toUInt64(sum(per_minute)) AS raises, toUInt64(max(per_minute)) AS max_per_minute,
    sum(active_s) AS total_active_s
FROM
(
    SELECT site_id, point_id, condition, intDiv(toUInt32(raised_at), 60) AS minute, count() AS per_minute,
        sum(duration_s) AS active_s
    FROM alarm_events FINAL
    WHERE $__timeFilter(raised_at) AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
      AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
    GROUP BY site_id, point_id, condition, minute
)
GROUP BY site_id, point_id, condition
ORDER BY raises DESC, site_id, point_id, condition
LIMIT 20
