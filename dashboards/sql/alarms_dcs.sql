-- columns: time, site_id, source, source_name, condition_name, severity, state, message, live
-- The DCS's own alarms (OPC UA Alarms & Conditions) in the time range,
-- each transition once, newest first.
SELECT time, site_id, source, source_name, condition_name, severity,
    multiIf(active = 1 AND acked = 0, 'active', active = 1, 'active_acked', acked = 0, 'cleared_unacked', 'cleared') AS state,
    message, live
FROM condition_events FINAL
WHERE $__timeFilter(time) AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
ORDER BY time DESC, time_ns DESC
LIMIT 1000
