-- columns: __value, __text
-- Analog points only: the trend and latest-value panels read numbers, so
-- on/off (switch) and text (status) points would only ever show them empty.
SELECT point_id AS __value, concat(point_id, ' ', name) AS __text
FROM points FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}') AND kind NOT IN ('switch', 'status')
ORDER BY point_id
