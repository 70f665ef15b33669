-- Online rate per enterprise for one day: Σ online minutes / Σ due minutes
-- over its in-service points (1,440 due minutes each).
SELECT
    d.site_id AS site_id,
    due_points,
    online_minutes,
    due_points * 1440 AS due_minutes,
    round(online_minutes / due_minutes, 4) AS online_rate
FROM (
    SELECT site_id, count() AS due_points
    FROM points FINAL
    WHERE out_of_service = 0 AND (site_id, point_id) NOT IN (
        SELECT site_id, point_id FROM point_out_of_service FINAL
        WHERE deleted = 0 AND from_time < '2026-03-03 00:00:00' AND to_time > '2026-03-02 00:00:00')
    GROUP BY site_id
) AS d
ANY LEFT JOIN (
    SELECT site_id, toUInt64(uniqExact(point_id, minute)) AS online_minutes
    FROM (
        SELECT site_id, point_id, bucket AS minute
        FROM samples_1m
        WHERE bucket >= '2026-03-02 00:00:00' AND bucket < '2026-03-03 00:00:00'
        GROUP BY site_id, point_id, bucket
        HAVING countMerge(samples) - sumMerge(bad) > 0
        UNION ALL
        SELECT site_id, point_id, minute
        FROM point_liveness
        WHERE minute >= '2026-03-02 00:00:00' AND minute < '2026-03-03 00:00:00'
    )
    WHERE (site_id, point_id) IN (
          SELECT site_id, point_id FROM points FINAL WHERE out_of_service = 0)
      AND (site_id, point_id) NOT IN (
          SELECT site_id, point_id FROM point_out_of_service FINAL
          WHERE deleted = 0 AND from_time < '2026-03-03 00:00:00' AND to_time > '2026-03-02 00:00:00')
    GROUP BY site_id
) AS o USING (site_id)
ORDER BY site_id
