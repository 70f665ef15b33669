-- Minute rollups that disagree with the raw rows they summarise, one day:
-- counted twice (rows stored twice) or short (a crash between the samples
-- part and the view's part). `lifeline-aggregator rollups repair` rebuilds them.
SELECT site_id, point_id, bucket, rollup_n, raw_n
FROM
(
    SELECT site_id, point_id, bucket, countMerge(samples) AS rollup_n
    FROM samples_1m
    WHERE bucket >= '2026-03-02 00:00:00' AND bucket < '2026-03-03 00:00:00'
    GROUP BY site_id, point_id, bucket
) AS r
ALL FULL OUTER JOIN
(
    SELECT site_id, point_id, toStartOfMinute(ts) AS bucket, count() AS raw_n
    FROM samples FINAL
    WHERE ts >= '2026-03-02 00:00:00' AND ts < '2026-03-03 00:00:00'
    GROUP BY site_id, point_id, bucket
) AS s USING site_id, point_id, bucket
WHERE rollup_n != raw_n
ORDER BY site_id, point_id, bucket
