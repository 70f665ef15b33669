-- columns: site_id, online, last_seen, agent_version, backlog_batches, backlog_bytes, backlog_age_s, drain_rate, sources_connected, sources_total, cert_days_left
-- Each enterprise's data link: the agent's latest heartbeat, its backlog on
-- disk (batches, bytes, age of the oldest sample), how fast it drains, and
-- the days left on its link certificate (empty without TLS). Sources and
-- the certificate come from the last heartbeat: a disconnect row carries
-- neither.
SELECT site_id,
    toUInt8(connected = 1 AND last_seen >= now() - 300) AS online,
    last_seen, agent_version, backlog_batches, backlog_bytes,
    if(oldest_ns = 0, 0, greatest(toInt64(toUInt32(now())) - intDiv(oldest_ns, 1000000000), 0)) AS backlog_age_s,
    drain_rate, sources_connected, sources_total,
    if(toUInt32(cert_not_after) = 0, NULL, intDiv(toInt64(toUInt32(cert_not_after)) - toInt64(toUInt32(now())), 86400)) AS cert_days_left
FROM (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}')) AS l1
ANY LEFT JOIN
(
    SELECT site_id, max(time) AS last_seen,
        argMax(connected, time_ns) AS connected, argMax(agent_version, time_ns) AS agent_version,
        argMax(backlog_batches, time_ns) AS backlog_batches, argMax(backlog_bytes, time_ns) AS backlog_bytes,
        argMax(oldest_ns, time_ns) AS oldest_ns, argMax(drain_rate, time_ns) AS drain_rate,
        argMaxIf(sources_connected, time_ns, heartbeat = 1) AS sources_connected,
        argMaxIf(sources_total, time_ns, heartbeat = 1) AS sources_total,
        argMaxIf(cert_not_after, time_ns, heartbeat = 1) AS cert_not_after
    FROM agents
    GROUP BY site_id
) AS r1 USING site_id
ORDER BY online, site_id
