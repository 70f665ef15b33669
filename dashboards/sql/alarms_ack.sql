-- columns: raised_at, site_id, point_id, condition, priority, state, ack_state, acked_by, ack_s, cause, measures
-- Acknowledgement and disposition (alarm_actions) of the alarms raised in
-- the time range and of those active now: who acknowledged and how long
-- after the raise (ack_s), or, while unacknowledged, how long it has
-- waited; overdue once that exceeds the dashboard's ack_overdue_min minutes. Overdue
-- first, then by priority, newest first.
SELECT raised_at, site_id, point_id, condition, priority, state,
    multiIf(closed = 1, 'closed', acked = 1, 'acknowledged', shelved = 1, 'shelved',
        waited_s > toInt64OrZero(decodeURLComponent('${ack_overdue_min:percentencode}')) * 60, 'overdue', 'unacknowledged') AS ack_state,
    acked_by,
    if(acked = 1, intDiv(ack_ns - raised_ns, 1000000000), waited_s) AS ack_s,
    cause, measures
FROM
(
    SELECT raised_at, toString(site_id) AS site_id, point_id, toString(condition) AS condition, raised_ns, priority,
        toString(state) AS state,
        greatest(toInt64(toUInt32(now())) - intDiv(raised_ns, 1000000000), 0) AS waited_s
    FROM alarm_events FINAL
    WHERE ($__timeFilter(raised_at) OR state = 'active')
      AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
      AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
) AS e
ANY LEFT JOIN
(
    SELECT site_id, point_id, condition, raised_ns,
        toUInt8(countIf(act IN ('ack', 'close')) > 0) AS acked,
        toUInt8(countIf(act = 'close') > 0) AS closed,
        minIf(at_ns, act IN ('ack', 'close')) AS ack_ns,
        argMinIf(user, at_ns, act IN ('ack', 'close')) AS acked_by,
        argMaxIf(cause, at_ns, cause != '') AS cause,
        argMaxIf(measures, at_ns, measures != '') AS measures,
        toUInt8(argMaxIf(act, at_ns, act IN ('shelve', 'unshelve')) = 'shelve'
            AND argMaxIf(until_ns, at_ns, act IN ('shelve', 'unshelve')) > toInt64(toUInt32(now())) * 1000000000) AS shelved
    FROM
    (
        SELECT site_id, point_id, condition, raised_ns, toString(action) AS act, at_ns, user, cause, measures, until_ns
        FROM alarm_actions FINAL
        WHERE site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
    )
    GROUP BY site_id, point_id, condition, raised_ns
) AS a USING (site_id, point_id, condition, raised_ns)
ORDER BY ack_state = 'overdue' DESC, priority, raised_at DESC
LIMIT 500
