-- Trend of one point, one value per minute (use samples_1h beyond ~2 weeks).
SELECT
    bucket,
    minMerge(min_value) AS min,
    maxMerge(max_value) AS max,
    round(sumMerge(sum_value) / sumMerge(numeric), 3) AS avg,
    argMaxMerge(last_value) AS last
FROM samples_1m
WHERE site_id = 'S1' AND point_id = 'T101.LT'
  AND bucket >= '2026-03-02 08:00:00' AND bucket < '2026-03-02 09:00:00'
GROUP BY bucket
HAVING sumMerge(numeric) > 0
ORDER BY bucket
