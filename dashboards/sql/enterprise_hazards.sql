-- columns: level, hazard_code, hazard_name, equipment, points
-- The enterprise's major hazard sources with their level and equipment.
SELECT hazard_level AS level, hazard_code, any(hazard_name) AS hazard_name,
    arrayStringConcat(groupUniqArray(equipment), ', ') AS equipment, toUInt64(count()) AS points
FROM points FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}') AND hazard_code != ''
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
GROUP BY level, hazard_code
ORDER BY level, hazard_code
