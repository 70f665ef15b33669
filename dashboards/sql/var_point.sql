-- columns: __value, __text
SELECT point_id AS __value, concat(point_id, ' ', name) AS __text
FROM points FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}')
ORDER BY point_id
