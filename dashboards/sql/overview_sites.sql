-- columns: site_id, online, last_seen, points, reporting, online_rate, backlog_batches
-- One row per enterprise: agent online (heartbeat in the last 5 minutes),
-- in-service points, points with a good sample (or, holding steady, known
-- alive: point_liveness) in the time range, and their share (the online
-- rate of monitored indicators). 18.16 allows one JOIN
-- per SELECT, hence the nesting.
SELECT
    site_id,
    toUInt8(last_seen >= now() - 300) AS online,
    last_seen,
    points,
    reporting,
    if(points = 0, 0, reporting / points) AS online_rate,
    backlog_batches
FROM
(
    SELECT site_id, points, reporting, last_seen, backlog_batches
    FROM
    (
        SELECT site_id, points, reporting
        FROM
        (
            SELECT site_id, points
            FROM (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}')) AS l1
            ANY LEFT JOIN
            (
                SELECT site_id, toUInt64(count()) AS points
                FROM points FINAL
                WHERE out_of_service = 0
                GROUP BY site_id
            ) AS r1 USING site_id
        ) AS l2
        ANY LEFT JOIN
        (
            SELECT site_id, toUInt64(uniqExact(point_id)) AS reporting
            FROM
            (
                SELECT site_id, point_id
                FROM samples FINAL
                WHERE $__timeFilter(ts) AND good = 1
                UNION ALL
                SELECT site_id, point_id
                FROM point_liveness
                WHERE $__timeFilter(minute)
            )
            WHERE site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
            GROUP BY site_id
        ) AS r2 USING site_id
    ) AS l3
    ANY LEFT JOIN
    (
        SELECT site_id, max(time) AS last_seen, argMax(backlog_batches, time_ns) AS backlog_batches
        FROM agents
        GROUP BY site_id
    ) AS r3 USING site_id
)
ORDER BY online, site_id
