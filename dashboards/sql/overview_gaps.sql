-- columns: from_ts, to_ts, site_id, points, samples, reason
-- Data known lost in the time range, so no hole in a chart goes unexplained.
SELECT from_ts, to_ts, site_id, length(point_ids) AS points, samples, reason
FROM gaps FINAL
WHERE to_ts >= $__fromTime AND from_ts <= $__toTime
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
ORDER BY from_ts DESC
LIMIT 200
