-- columns: time, timeEnd, text
-- Known data loss touching the point (a gap naming no points covers the
-- whole site), as annotations over the trend.
SELECT from_ts AS time, to_ts AS timeEnd, concat(reason, ': ', toString(samples)) AS text
FROM gaps FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}') AND (has(point_ids, decodeURLComponent('${point:percentencode}')) OR empty(point_ids))
  AND to_ts >= $__fromTime AND from_ts <= $__toTime
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
ORDER BY time
