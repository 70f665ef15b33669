-- Batches stored by more than one INSERT (see "Deduplication"): their rollup
-- buckets count those rows twice and can be rebuilt from samples FINAL.
SELECT site_id, buffer_id, seq, sum(inserts) AS inserts
FROM ingest_batches
GROUP BY site_id, buffer_id, seq
HAVING inserts > 1
ORDER BY site_id, buffer_id, seq
