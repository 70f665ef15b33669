-- columns: online, total
-- Enterprises whose agent sent a heartbeat in the last 5 minutes.
SELECT toUInt64(countIf(last_seen >= now() - 300)) AS online, toUInt64(count()) AS total
FROM (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}')) AS l1
ANY LEFT JOIN (SELECT site_id, max(time) AS last_seen FROM agents GROUP BY site_id) AS r1 USING site_id
