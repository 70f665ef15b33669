-- Alarm rate: raised alarms per 10 minutes per site (ISA-18.2: about 1 is
-- manageable; more than 10 is a flood).
SELECT
    site_id,
    toDateTime(intDiv(toUInt32(raised_at), 600) * 600, 'UTC') AS period,
    count() AS alarms
FROM alarm_events FINAL
WHERE raised_at >= '2026-03-02 00:00:00' AND raised_at < '2026-03-03 00:00:00' AND backfill = 0
GROUP BY site_id, period
ORDER BY site_id, period
