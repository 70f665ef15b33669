-- Alarms raised per major hazard source this week (live data only).
SELECT hazard_code, count() AS alarms, countIf(priority = 1) AS high_priority
FROM alarm_events FINAL
WHERE raised_at >= '2026-03-02 00:00:00' AND raised_at < '2026-03-09 00:00:00'
  AND backfill = 0 AND hazard_code != ''
GROUP BY hazard_code
ORDER BY alarms DESC, hazard_code
