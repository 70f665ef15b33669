-- columns: time, alarms
-- Alarms raised per 10 minutes (ISA-18.2 / EEMUA 191: about 1 is
-- manageable, more than 10 is a flood).
SELECT toDateTime(intDiv(toUInt32(raised_at), 600) * 600) AS time, toUInt64(count()) AS alarms
FROM alarm_events FINAL
WHERE $__timeFilter(raised_at) AND site_id IN (SELECT arrayJoin(splitByChar(',', replaceAll(replaceAll(decodeURLComponent('${site:percentencode}'), '{', ''), '}', ''))))
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
GROUP BY time
ORDER BY time
