-- Standing (stale) alarms: active for more than 24 hours at the given time.
SELECT site_id, point_id, condition, raised_at,
    round((toUInt32(toDateTime('2026-03-04 00:00:00', 'UTC')) - toUInt32(raised_at)) / 3600, 1) AS hours_active
FROM alarm_events FINAL
WHERE state = 'active' AND backfill = 0
  AND raised_at < toDateTime('2026-03-04 00:00:00', 'UTC') - 86400
ORDER BY raised_at, site_id, point_id
