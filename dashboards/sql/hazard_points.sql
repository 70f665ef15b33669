-- columns: point_id, name, kind, equipment, value, unit, ll, l, h, hh, stage1, stage2, state, last_ts
-- Every point of the hazard source, latest good value against its limits.
SELECT point_id, name, kind, equipment, v AS value, unit, ll, l, h, hh, stage1, stage2,
        if(out_of_service = 1, 'OOS', multiIf(value_count = 0, 'NODATA',
                ifNull(v >= stage2, 0), 'S2',
                ifNull(v >= hh, 0), 'HH',
                ifNull(v <= ll, 0), 'LL',
                ifNull(v >= stage1, 0), 'S1',
                ifNull(v >= h, 0), 'H',
                ifNull(v <= l, 0), 'L', 'OK')) AS state,
        last_ts
FROM
(
    SELECT site_id, point_id, name, kind, equipment, unit, ll, l, h, hh, stage1, stage2, out_of_service
    FROM points FINAL
    WHERE site_id = decodeURLComponent('${site:percentencode}') AND hazard_code = decodeURLComponent('${hazard:percentencode}')
      AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
) AS l1
ANY LEFT JOIN
(
    SELECT site_id, point_id, argMax(value, ts_ns) AS v, max(ts) AS last_ts, toUInt64(count()) AS value_count
    FROM samples FINAL
    WHERE site_id = decodeURLComponent('${site:percentencode}') AND $__timeFilter(ts) AND value_type = 'number' AND good = 1
    GROUP BY site_id, point_id
) AS r1 USING site_id, point_id
ORDER BY kind, point_id
