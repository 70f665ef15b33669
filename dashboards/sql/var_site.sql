-- columns: site_id
SELECT site_id
FROM sites FINAL
WHERE park = decodeURLComponent('${park:percentencode}')
ORDER BY site_id
