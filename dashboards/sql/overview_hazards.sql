-- columns: level, hazard_code, hazard_name, site_id, points, alarming, state
-- Major hazard sources of the park by level (1 = most severe), each with
-- its points and how many of them are beyond a limit now.
SELECT
    hazard_level AS level,
    hazard_code,
    any(hazard_name) AS hazard_name,
    site_id,
    toUInt64(count()) AS points,
    toUInt64(countIf(point_state IN ('HH', 'LL', 'H', 'L', 'S2', 'S1'))) AS alarming,
    multiIf(countIf(point_state IN ('HH', 'LL', 'S2')) > 0, 'HH',
            countIf(point_state IN ('H', 'L', 'S1')) > 0, 'H',
            countIf(point_state = 'NODATA') = count(), 'NODATA', 'OK') AS state
FROM
(
    SELECT site_id, hazard_code, hazard_name, hazard_level,
        multiIf(value_count = 0, 'NODATA',
                ifNull(v >= stage2, 0), 'S2',
                ifNull(v >= hh, 0), 'HH',
                ifNull(v <= ll, 0), 'LL',
                ifNull(v >= stage1, 0), 'S1',
                ifNull(v >= h, 0), 'H',
                ifNull(v <= l, 0), 'L', 'OK') AS point_state
    FROM
    (
        SELECT site_id, point_id, hazard_code, hazard_name, hazard_level, ll, l, h, hh, stage1, stage2
        FROM points FINAL
        WHERE hazard_code != '' AND out_of_service = 0
          AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
    ) AS l1
    ANY LEFT JOIN
    (
        SELECT site_id, point_id, argMax(value, ts_ns) AS v, toUInt64(count()) AS value_count
        FROM samples FINAL
        WHERE $__timeFilter(ts) AND value_type = 'number' AND good = 1
          AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
        GROUP BY site_id, point_id
    ) AS r1 USING site_id, point_id
)
GROUP BY level, hazard_code, site_id
ORDER BY level, hazard_code, site_id
