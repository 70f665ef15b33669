-- columns: site_id
SELECT site_id
FROM sites FINAL
WHERE park = '${park}'
ORDER BY site_id
