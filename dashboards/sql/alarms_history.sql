-- columns: raised_at, cleared_at, site_id, point_id, condition, priority, value, limit_value, peak_value, duration_s, state
-- Every alarm raised in the time range.
SELECT raised_at, if(state = 'cleared', cleared_at, NULL) AS cleared_at, site_id, point_id, condition, priority,
    value, limit_value, peak_value, duration_s, toString(state) AS state
FROM alarm_events FINAL
WHERE $__timeFilter(raised_at) AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
ORDER BY raised_at DESC
LIMIT 1000
