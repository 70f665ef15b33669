package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// skipCommitted returns the batches whose (site, seq) the ledger does not
// hold yet. A batch is already there when an earlier INSERT of it succeeded
// but its reply was lost (the Writer retries), or when an agent re-sent a
// batch whose ack it missed. Inserting it again would collapse in samples
// on merge but count twice in the rollups' materialized views, so it is
// skipped; its done callback still reports it committed, which it is.
func (s *Store) skipCommitted(ctx context.Context, conn driver.Conn, batches []*Batch) ([]*Batch, error) {
	type span struct{ lo, hi uint64 }
	spans := map[string]span{}
	for _, b := range batches {
		sp, ok := spans[b.SiteID]
		if !ok {
			sp = span{b.Seq, b.Seq}
		}
		sp.lo, sp.hi = min(sp.lo, b.Seq), max(sp.hi, b.Seq)
		spans[b.SiteID] = sp
	}
	var where []string
	var args []any
	for site, sp := range spans {
		where = append(where, "(site_id = ? AND seq >= ? AND seq <= ?)")
		args = append(args, site, sp.lo, sp.hi)
	}
	rows, err := conn.Query(ctx, "SELECT DISTINCT site_id, seq FROM ingest_batches WHERE "+strings.Join(where, " OR "), args...)
	if err != nil {
		return nil, fmt.Errorf("insert: check ledger: %w", err)
	}
	defer rows.Close()
	type key struct {
		site string
		seq  uint64
	}
	var done map[key]bool
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.site, &k.seq); err != nil {
			return nil, fmt.Errorf("insert: check ledger: %w", err)
		}
		if done == nil {
			done = map[key]bool{}
		}
		done[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert: check ledger: %w", err)
	}
	if len(done) == 0 {
		return batches, nil
	}
	kept := make([]*Batch, 0, len(batches))
	for _, b := range batches {
		if done[key{b.SiteID, b.Seq}] {
			s.logger.Info("batch already committed; not inserting it again", "site", b.SiteID, "seq", b.Seq)
			continue
		}
		kept = append(kept, b)
	}
	return kept, nil
}
