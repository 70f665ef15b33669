-- columns: t, site_id, drain_rate
-- How fast each agent drains its backlog (samples per second).
SELECT toDateTime(intDiv(toUInt32(time), $__interval_s) * $__interval_s) AS t, site_id, avg(drain_rate) AS drain_rate
FROM agents
WHERE $__timeFilter(time)
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
GROUP BY t, site_id
ORDER BY t, site_id
