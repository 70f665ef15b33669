-- columns: point_id, name, description, kind, unit, range_low, range_high, ll, l, h, hh, stage1, stage2, deadband, hazard_code, hazard_name, hazard_level, equipment, node_id, out_of_service
-- The point as the plant's point list (点表) describes it.
SELECT point_id, name, description, kind, unit, range_low, range_high, ll, l, h, hh, stage1, stage2, deadband,
    hazard_code, hazard_name, hazard_level, equipment, node_id, out_of_service
FROM points FINAL
WHERE site_id = decodeURLComponent('${site:percentencode}') AND point_id = decodeURLComponent('${point:percentencode}')
  AND site_id IN (SELECT site_id FROM sites FINAL WHERE park = decodeURLComponent('${park:percentencode}'))
