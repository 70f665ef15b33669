-- columns: priority, active
-- Alarms active now in the park, by priority.
SELECT priority, toUInt64(count()) AS active
FROM alarm_events FINAL
WHERE state = 'active'
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
GROUP BY priority
ORDER BY priority
