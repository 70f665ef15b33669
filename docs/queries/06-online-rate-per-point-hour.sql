-- Online rate per point per hour: minutes with at least one good sample or
-- a liveness row (a steady point) over the 60 due minutes, for in-service
-- points (see "Online rate").
SELECT
    g.site_id AS site_id,
    g.point_id AS point_id,
    g.hour AS hour,
    online AS online_minutes,
    round(online / 60, 4) AS online_rate
FROM (
    SELECT site_id, point_id, hour
    FROM (SELECT site_id, point_id, 1 AS k FROM points FINAL WHERE out_of_service = 0) AS p
    ALL INNER JOIN (SELECT toDateTime('2026-03-02 08:00:00', 'UTC') + 3600 * number AS hour, 1 AS k FROM numbers(2)) AS h USING k
) AS g
ANY LEFT JOIN (
    SELECT site_id, point_id, toStartOfHour(minute) AS hour, toUInt64(uniqExact(minute)) AS online
    FROM (
        SELECT site_id, point_id, bucket AS minute
        FROM samples_1m
        WHERE bucket >= '2026-03-02 08:00:00' AND bucket < '2026-03-02 10:00:00'
        GROUP BY site_id, point_id, bucket
        HAVING countMerge(samples) - sumMerge(bad) > 0
        UNION ALL
        SELECT site_id, point_id, minute
        FROM point_liveness
        WHERE minute >= '2026-03-02 08:00:00' AND minute < '2026-03-02 10:00:00'
    )
    GROUP BY site_id, point_id, hour
) AS o USING (site_id, point_id, hour)
WHERE (site_id, point_id) NOT IN (
    SELECT site_id, point_id FROM point_out_of_service FINAL
    WHERE deleted = 0 AND from_time < '2026-03-02 10:00:00' AND to_time > '2026-03-02 08:00:00'
)
ORDER BY site_id, point_id, hour
