-- Online minutes per point and hour, a steady point included: a minute is
-- online when the point sent a good sample in it or its agent knew it alive
-- without a change (point_liveness).
SELECT site_id, point_id, toStartOfHour(minute) AS hour, uniqExact(minute) AS online_minutes
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
ORDER BY site_id, point_id, hour
