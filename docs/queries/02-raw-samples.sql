-- Raw samples of one point in a period, exactly once each (FINAL), with quality.
SELECT ts_ns, value, status, good, backfill
FROM samples FINAL
WHERE site_id = 'S1' AND point_id = 'T101.LT'
  AND ts >= '2026-03-02 08:30:00' AND ts < '2026-03-02 08:32:00'
ORDER BY ts_ns
