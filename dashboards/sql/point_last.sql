-- columns: last_value, last_ts, last_good
-- The point's latest sample in the time range, whatever its quality.
SELECT argMax(value, ts_ns) AS last_value, max(ts) AS last_ts, argMax(good, ts_ns) AS last_good
FROM samples FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}') AND point_id = decodeURLComponent('${point:percentencode}') AND $__timeFilter(ts) AND value_type = 'number'
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
HAVING count() > 0
