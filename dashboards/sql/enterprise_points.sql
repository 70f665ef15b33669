-- columns: point_id, name, kind, value, unit, ll, l, h, hh, stage1, stage2, state, last_ts
-- Key points (those of a hazard source) with their latest good value in the
-- time range against their limits.
SELECT point_id, name, kind, v AS value, unit, ll, l, h, hh, stage1, stage2,
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
    SELECT site_id, point_id, name, kind, unit, ll, l, h, hh, stage1, stage2, out_of_service
    FROM points FINAL
    WHERE site_id = decodeURLComponent('${site:percentencode}') AND hazard_code != ''
      AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
) AS l1
ANY LEFT JOIN
(
    SELECT site_id, point_id, argMax(value, ts_ns) AS v, max(ts) AS last_ts, toUInt64(count()) AS value_count
    FROM samples FINAL
    WHERE site_id = decodeURLComponent('${site:percentencode}') AND $__timeFilter(ts) AND value_type = 'number' AND good = 1
    GROUP BY site_id, point_id
) AS r1 USING site_id, point_id
ORDER BY point_id
