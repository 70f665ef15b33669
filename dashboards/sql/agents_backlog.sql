-- columns: t, site_id, backlog_batches
-- Batches waiting in each agent's disk buffer: after an outage the curve
-- falls as the backlog drains beside live data.
SELECT toDateTime(intDiv(toUInt32(time), $__interval_s) * $__interval_s) AS t, site_id, max(backlog_batches) AS backlog_batches
FROM agents
WHERE $__timeFilter(time)
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
GROUP BY t, site_id
ORDER BY t, site_id
