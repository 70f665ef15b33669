-- Samples stored more than once and not merged away yet, per site and minute:
-- the rollups count them twice until `lifeline-aggregator rollups repair`.
SELECT site_id, toStartOfMinute(ts) AS minute, count() - uniqExact(point_id, ts_ns) AS extra_rows
FROM samples
WHERE ts >= '2026-03-02 00:00:00' AND ts < '2026-03-03 00:00:00'
GROUP BY site_id, minute
HAVING extra_rows > 0
ORDER BY site_id, minute
