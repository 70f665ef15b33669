-- columns: time, site_id, samples
-- Samples stored per enterprise per time bucket: the data flow at a glance.
SELECT toDateTime(intDiv(toUInt32(ts), $__interval_s) * $__interval_s) AS time, site_id, toUInt64(count()) AS samples
FROM samples FINAL
WHERE $__timeFilter(ts)
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
GROUP BY time, site_id
ORDER BY time, site_id
