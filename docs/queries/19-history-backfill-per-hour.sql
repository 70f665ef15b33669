-- Values read back from the OPC UA servers' history, per point and hour.
SELECT site_id, point_id, toStartOfHour(ts) AS hour, count() AS read_back
FROM samples FINAL
WHERE backfill = 2 AND ts >= '2026-03-02 00:00:00' AND ts < '2026-03-03 00:00:00'
GROUP BY site_id, point_id, hour
ORDER BY site_id, point_id, hour
