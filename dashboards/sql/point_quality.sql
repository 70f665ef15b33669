-- columns: time, good_samples, bad_samples
-- Samples per bucket by OPC UA quality: bad ones are stored, never dropped.
SELECT toDateTime(intDiv(toUInt32(ts), $__interval_s) * $__interval_s) AS time,
    toUInt64(countIf(good = 1)) AS good_samples, toUInt64(countIf(good = 0)) AS bad_samples
FROM samples FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}') AND point_id = decodeURLComponent('${point:percentencode}') AND $__timeFilter(ts)
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
GROUP BY time
ORDER BY time
