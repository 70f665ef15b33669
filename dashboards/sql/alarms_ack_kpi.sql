-- columns: alarms, acknowledged, unacknowledged, overdue, shelved, mean_ack_s, p90_ack_s
-- Acknowledgement KPIs of the alarms raised in the time range: how many
-- were acknowledged (an 'ack' or 'close' in alarm_actions), how many wait,
-- how many of those (not shelved) longer than the dashboard's ack_overdue_min minutes,
-- how many unacknowledged are shelved now, and the mean and 90th
-- percentile time to acknowledge.
SELECT
    count() AS alarms,
    toUInt64(sum(is_acked)) AS acknowledged,
    toUInt64(count() - sum(is_acked)) AS unacknowledged,
    toUInt64(countIf(is_acked = 0 AND is_shelved = 0 AND waited_s > toInt64OrZero(decodeURLComponent('${ack_overdue_min:percentencode}')) * 60)) AS overdue,
    toUInt64(countIf(is_acked = 0 AND is_shelved = 1)) AS shelved,
    round(avgIf((ack_ns - raised_ns) / 1e9, is_acked = 1), 1) AS mean_ack_s,
    round(quantileExactIf(0.9)((ack_ns - raised_ns) / 1e9, is_acked = 1), 1) AS p90_ack_s
FROM
(
    SELECT toString(site_id) AS site_id, point_id, toString(condition) AS condition, raised_ns,
        greatest(toInt64(toUInt32(now())) - intDiv(raised_ns, 1000000000), 0) AS waited_s
    FROM alarm_events FINAL
    WHERE $__timeFilter(raised_at)
      AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
      AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
) AS e
ANY LEFT JOIN
(
    SELECT site_id, point_id, condition, raised_ns,
        toUInt8(countIf(act IN ('ack', 'close')) > 0) AS is_acked,
        minIf(at_ns, act IN ('ack', 'close')) AS ack_ns,
        toUInt8(argMaxIf(act, at_ns, act IN ('shelve', 'unshelve')) = 'shelve'
            AND argMaxIf(until_ns, at_ns, act IN ('shelve', 'unshelve')) > toInt64(toUInt32(now())) * 1000000000) AS is_shelved
    FROM
    (
        SELECT site_id, point_id, condition, raised_ns, toString(action) AS act, at_ns, until_ns
        FROM alarm_actions FINAL
        WHERE site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
    )
    GROUP BY site_id, point_id, condition, raised_ns
) AS a USING (site_id, point_id, condition, raised_ns)
