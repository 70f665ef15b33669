-- Data known lost in a period: spans overlapping it, per site.
SELECT site_id, from_ts, to_ts, samples, reason, point_ids
FROM gaps FINAL
WHERE from_ts < '2026-03-03 00:00:00' AND to_ts >= '2026-03-02 00:00:00'
ORDER BY site_id, from_ns
