-- columns: time, point_id, value
-- Trends of the hazard source's points of kind temperature (average per bucket).
SELECT toDateTime(intDiv(toUInt32(ts), $__interval_s) * $__interval_s) AS time, point_id, avg(value) AS value
FROM samples FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}') AND $__timeFilter(ts) AND value_type = 'number'
  AND point_id IN (SELECT point_id FROM points FINAL
                   WHERE site_id = decodeURLComponent('${site:percentencode}') AND hazard_code = decodeURLComponent('${hazard:percentencode}') AND kind IN ('temperature'))
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
GROUP BY time, point_id
ORDER BY time, point_id
