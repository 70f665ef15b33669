-- Alarms active now, newest first (back-filled history excluded).
SELECT site_id, point_id, condition, priority, raised_at, value, limit_value
FROM alarm_events FINAL
WHERE state = 'active' AND backfill = 0
ORDER BY raised_ns DESC, site_id, point_id, condition
