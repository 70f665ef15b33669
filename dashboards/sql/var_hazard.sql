-- columns: __value, __text
SELECT hazard_code AS __value, concat(hazard_code, ' ', any(hazard_name)) AS __text
FROM points FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}') AND hazard_code != ''
GROUP BY hazard_code
ORDER BY hazard_code
