-- The DCS conditions standing at the end of a window: the last transition
-- of each condition is still active or not yet acknowledged.
SELECT site_id, source, condition_name, since, severity, active, acked
FROM (
    SELECT site_id, source, condition_id, condition_name,
           argMax(time, time_ns) AS since, argMax(severity, time_ns) AS severity,
           argMax(active, time_ns) AS active, argMax(acked, time_ns) AS acked
    FROM condition_events FINAL
    WHERE time < '2026-03-02 10:00:00'
    GROUP BY site_id, source, condition_id, condition_name
)
WHERE active = 1 OR acked = 0
ORDER BY site_id, source, since
