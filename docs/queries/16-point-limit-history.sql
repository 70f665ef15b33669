-- The limits of one point over time: every configuration it was announced with.
SELECT
    minMerge(first_seen) AS valid_from,
    maxMerge(last_seen) AS last_seen,
    any(h) AS h,
    any(hh) AS hh,
    any(deadband) AS deadband
FROM point_versions
WHERE site_id = 'S1' AND point_id = 'T101.LT'
GROUP BY version
ORDER BY valid_from
