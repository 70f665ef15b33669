-- Chattering alarms: a point and condition raised 3 or more times within one minute.
SELECT site_id, point_id, condition, toStartOfMinute(raised_at) AS minute, count() AS activations
FROM alarm_events FINAL
WHERE raised_at >= '2026-03-02 00:00:00' AND raised_at < '2026-03-03 00:00:00' AND backfill = 0
GROUP BY site_id, point_id, condition, minute
HAVING activations >= 3
ORDER BY site_id, point_id, condition, minute
