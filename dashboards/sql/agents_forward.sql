-- columns: target, lag_s, backlog_s, cursor_age_s
-- Each provincial target this park's enterprises report to (a target is
-- the park's when forward_codes gives one of its sites an enterprise
-- code): how far behind now its newest real-time period sent is, how much
-- missed time is still to send, and how old the oldest unsent period is.
SELECT target,
    greatest(toInt64(toUInt32(now())) - intDiv(argMax(live_ns, updated_ns), 1000000000), 0) AS lag_s,
    argMax(backlog_s, updated_ns) AS backlog_s,
    greatest(toInt64(toUInt32(now())) - intDiv(argMax(oldest_ns, updated_ns), 1000000000), 0) AS cursor_age_s
FROM
(
    SELECT target, live_ns, backlog_s, updated_ns,
        if(pending = '', live_ns, toInt64OrZero(splitByChar('-', pending)[1])) AS oldest_ns
    FROM forward_cursors
    WHERE kind = 'realtime'
      AND target IN (
        SELECT target FROM forward_codes FINAL
        WHERE kind = 'enterprise' AND code != ''
          AND local_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}')))
)
GROUP BY target
ORDER BY target
