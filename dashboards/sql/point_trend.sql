-- columns: time, value, low, high, LL, L, H, HH, S1, S2
-- The point's trend (average, min and max per bucket of good samples) with
-- its alarm limits as flat series; a limit the point does not have is NULL.
-- Up to 6 hours it reads raw samples, up to 7 days the minute rollups,
-- beyond that the hour rollups: exactly one branch matches the range.
SELECT time, avg_value AS value, low, high, ll AS LL, l AS L, h AS H, hh AS HH, stage1 AS S1, stage2 AS S2
FROM
(
    SELECT time, site_id, point_id, avg_value, low, high
    FROM
    (
        SELECT toDateTime(intDiv(toUInt32(ts), $__interval_s) * $__interval_s) AS time, site_id, point_id,
            avg(value) AS avg_value, min(value) AS low, max(value) AS high
        FROM samples FINAL
        WHERE site_id = decodeURLComponent('${site:percentencode}') AND point_id = decodeURLComponent('${point:percentencode}') AND $__timeFilter(ts)
          AND value_type = 'number' AND good = 1
          AND toUInt32($__toTime) - toUInt32($__fromTime) <= 21600
        GROUP BY time, site_id, point_id
        UNION ALL
        SELECT toDateTime(intDiv(toUInt32(bucket), $__interval_s) * $__interval_s) AS time, site_id, point_id,
            sumMerge(sum_value) / sumMerge(numeric) AS avg_value, minMerge(min_value) AS low, maxMerge(max_value) AS high
        FROM samples_1m
        WHERE site_id = decodeURLComponent('${site:percentencode}') AND point_id = decodeURLComponent('${point:percentencode}') AND $__timeFilter(bucket)
          AND toUInt32($__toTime) - toUInt32($__fromTime) > 21600
          AND toUInt32($__toTime) - toUInt32($__fromTime) <= 604800
        GROUP BY time, site_id, point_id
        HAVING sumMerge(numeric) > 0
        UNION ALL
        SELECT toDateTime(intDiv(toUInt32(bucket), $__interval_s) * $__interval_s) AS time, site_id, point_id,
            sumMerge(sum_value) / sumMerge(numeric) AS avg_value, minMerge(min_value) AS low, maxMerge(max_value) AS high
        FROM samples_1h
        WHERE site_id = decodeURLComponent('${site:percentencode}') AND point_id = decodeURLComponent('${point:percentencode}') AND $__timeFilter(bucket)
          AND toUInt32($__toTime) - toUInt32($__fromTime) > 604800
        GROUP BY time, site_id, point_id
        HAVING sumMerge(numeric) > 0
    )
    WHERE site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
) AS l1
ANY LEFT JOIN
(
    SELECT site_id, point_id, ll, l, h, hh, stage1, stage2
    FROM points FINAL
    WHERE site_id = decodeURLComponent('${site:percentencode}') AND point_id = decodeURLComponent('${point:percentencode}')
) AS r1 USING site_id, point_id
ORDER BY time
