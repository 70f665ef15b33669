-- The DCS's own alarm transitions (OPC UA Alarms & Conditions) in a
-- window, each once: FINAL collapses the copies a ConditionRefresh or a
-- re-sent batch made. live = 0: the transition happened while the agent
-- was not reading and reached it only by a refresh.
SELECT site_id, source, condition_name, time, severity, active, acked, live
FROM condition_events FINAL
WHERE time >= '2026-03-02 07:00:00' AND time < '2026-03-02 10:00:00'
ORDER BY site_id, time, time_ns
