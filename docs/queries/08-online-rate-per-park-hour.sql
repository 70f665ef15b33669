-- Online rate per park for one hour, over the in-service points of its enterprises.
SELECT
    park,
    sum(online) AS online_minutes,
    count() * 60 AS due_minutes,
    round(online_minutes / due_minutes, 4) AS online_rate
FROM (
    SELECT site_id, point_id, online
    FROM (
        SELECT site_id, point_id FROM points FINAL
        WHERE out_of_service = 0 AND (site_id, point_id) NOT IN (
            SELECT site_id, point_id FROM point_out_of_service FINAL
            WHERE deleted = 0 AND from_time < '2026-03-02 09:00:00' AND to_time > '2026-03-02 08:00:00')
    ) AS p
    ANY LEFT JOIN (
        SELECT site_id, point_id, toUInt64(uniqExact(minute)) AS online
        FROM (
            SELECT site_id, point_id, bucket AS minute
            FROM samples_1m
            WHERE bucket >= '2026-03-02 08:00:00' AND bucket < '2026-03-02 09:00:00'
            GROUP BY site_id, point_id, bucket
            HAVING countMerge(samples) - sumMerge(bad) > 0
            UNION ALL
            SELECT site_id, point_id, minute
            FROM point_liveness
            WHERE minute >= '2026-03-02 08:00:00' AND minute < '2026-03-02 09:00:00'
        )
        GROUP BY site_id, point_id
    ) AS o USING (site_id, point_id)
) AS r
ANY LEFT JOIN (SELECT site_id, park FROM sites FINAL) AS s USING (site_id)
GROUP BY park
ORDER BY park
