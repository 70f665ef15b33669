-- Top 10 bad actors: the points that raised the most alarms in a period.
SELECT site_id, point_id, count() AS alarms, sum(duration_s) AS seconds_in_alarm
FROM alarm_events FINAL
WHERE raised_at >= '2026-03-02 00:00:00' AND raised_at < '2026-03-09 00:00:00'
  AND backfill = 0 AND point_id != ''
GROUP BY site_id, point_id
ORDER BY alarms DESC, site_id, point_id
LIMIT 10
