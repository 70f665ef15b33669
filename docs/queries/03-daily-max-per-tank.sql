-- Daily maximum level per tank (equipment), from hourly rollups.
SELECT
    p.equipment AS tank,
    toDate(r.bucket) AS day,
    max(r.max_level) AS max_level
FROM (
    SELECT site_id, point_id, bucket, maxMerge(max_value) AS max_level
    FROM samples_1h
    WHERE bucket >= '2026-03-02 00:00:00' AND bucket < '2026-03-03 00:00:00'
    GROUP BY site_id, point_id, bucket
    HAVING sumMerge(numeric) > 0
) AS r
ANY INNER JOIN (
    SELECT site_id, point_id, equipment FROM points FINAL WHERE kind = 'level'
) AS p USING (site_id, point_id)
GROUP BY tank, day
ORDER BY tank, day
