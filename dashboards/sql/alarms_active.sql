-- columns: raised_at, site_id, point_id, condition, priority, value, limit_value, active_s, hazard_code, backfill
-- Alarms active now, most severe and oldest first.
SELECT raised_at, site_id, point_id, condition, priority, value, limit_value,
    greatest(toInt64(toUInt32(now())) - toInt64(toUInt32(raised_at)), 0) AS active_s, hazard_code, backfill
FROM alarm_events FINAL
WHERE state = 'active' AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
ORDER BY priority, raised_at
LIMIT 500
