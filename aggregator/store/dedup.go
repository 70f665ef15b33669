package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// ledgerKey is a batch's key in the ledger.
type ledgerKey struct {
	site, buffer string
	seq          uint64
}

func (b *Batch) ledgerKey() ledgerKey {
	return ledgerKey{b.SiteID, b.ledgerBufferID(), b.Seq}
}

// ledgerBufferID is the identity the batch is recorded under (see
// lifelinev1.LedgerBufferID).
func (b *Batch) ledgerBufferID() string { return lifelinev1.LedgerBufferID(b.BufferID, b.Seq) }

// skipCommitted returns the batches whose (site, buffer, seq) the ledger
// does not hold yet. A batch is already there when an earlier INSERT of it
// succeeded but its reply was lost (the Writer retries), or when an agent
// re-sent a batch whose ack it missed. Inserting it again would collapse in
// samples on merge but count twice in the rollups' materialized views, so it
// is skipped; its done callback still reports it committed, which it is.
func (s *Store) skipCommitted(ctx context.Context, conn driver.Conn, batches []*Batch) ([]*Batch, error) {
	from, ctx, err := s.fromEveryReplica(ctx, conn, "ingest_batches")
	if err != nil {
		return nil, fmt.Errorf("insert: check ledger: %w", err)
	}
	done := map[ledgerKey]bool{}
	for chunk := range slices.Chunk(batches, batchesPerLedgerCheck) {
		if err := s.checkLedger(ctx, conn, from, chunk, done); err != nil {
			return nil, err
		}
	}
	// A group never carries one batch twice (the writer coalesces), but an
	// Insert called directly might: keep the first.
	seen := make(map[ledgerKey]bool, len(batches))
	kept := make([]*Batch, 0, len(batches))
	for _, b := range batches {
		k := b.ledgerKey()
		if done[k] {
			s.logger.Info("batch already committed; not inserting it again", "site", b.SiteID, "buffer_id", k.buffer, "seq", b.Seq)
			continue
		}
		if seen[k] {
			s.logger.Warn("batch twice in one insert; inserting it once", "site", b.SiteID, "buffer_id", k.buffer, "seq", b.Seq)
			continue
		}
		seen[k] = true
		kept = append(kept, b)
	}
	return kept, nil
}

// batchesPerLedgerCheck bounds the batches one ledger check names: each is
// a tuple of the query, and ClickHouse 18.16 refuses a query of more than
// 50,000 syntax elements ("AST is too big"), which 10,000 batches reached
// (an insert of max_rows 10-sample batches, a thousand small agents
// draining their backlogs).
const batchesPerLedgerCheck = 2000

// checkLedger adds to done the keys of batches the ledger holds.
func (s *Store) checkLedger(ctx context.Context, conn driver.Conn, from string, batches []*Batch, done map[ledgerKey]bool) error {
	// One tuple per batch, looked up as a set: the primary key's first
	// column narrows the parts read. A disjunction of one range per site
	// took seconds at ~1,000 sites an insert (many quiet agents).
	var sites []string
	keys := make([]clickhouse.GroupSet, 0, len(batches))
	seenSite := map[string]bool{}
	for _, b := range batches {
		if !seenSite[b.SiteID] {
			seenSite[b.SiteID] = true
			sites = append(sites, b.SiteID)
		}
		keys = append(keys, clickhouse.GroupSet{Value: []any{b.SiteID, b.ledgerBufferID(), b.Seq}})
	}
	return queryEach(ctx, conn, "insert: check ledger", func(rows driver.Rows) error {
		var k ledgerKey
		if err := rows.Scan(&k.site, &k.buffer, &k.seq); err != nil {
			return err
		}
		done[k] = true
		return nil
	}, "SELECT DISTINCT site_id, buffer_id, seq FROM "+from+
		" WHERE site_id IN ? AND (site_id, buffer_id, seq) IN (?)", inSet(sites), keys)
}
