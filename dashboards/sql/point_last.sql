-- columns: last_value, last_ts, last_good
-- The point's latest sample in the time range, whatever its quality.
SELECT argMax(value, ts_ns) AS last_value, max(ts) AS last_ts, argMax(good, ts_ns) AS last_good
FROM samples FINAL
WHERE site_id = '${site}' AND point_id = '${point}' AND $__timeFilter(ts) AND value_type = 'number'
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = '${park}')
HAVING count() > 0
