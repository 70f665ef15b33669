-- What history backfill recovered of each stop or outage in a period.
SELECT site_id, reason, from_ts, to_ts, recovery, recovered, unrecovered_point_ids
FROM gaps FINAL
WHERE reason IN ('agent_stopped', 'source_unavailable')
  AND from_ts < '2026-03-03 00:00:00' AND to_ts >= '2026-03-02 00:00:00'
ORDER BY site_id, from_ns
