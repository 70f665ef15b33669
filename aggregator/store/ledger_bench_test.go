package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Ledger shape of the handshake benchmark: 10 M rows over 20 sites, each
// site with 500,000 committed batches of one buffer (about 6 days of a
// batch a second).
const (
	benchSites     = 20
	benchPerSite   = 500_000
	benchLedgerRow = benchSites * benchPerSite
)

// fillLedger writes the benchmark's ledger rows straight into table
// (INSERT … SELECT FROM numbers()), in the current key or, with old, the
// key before buffer identities (site_id, seq).
func fillLedger(b *testing.B, s *store.Store, table string, old bool) {
	b.Helper()
	ctx := context.Background()
	if old {
		if err := s.Conn().Exec(ctx, "CREATE TABLE "+table+" (site_id String, seq UInt64, rows UInt64, inserts UInt64) "+
			"ENGINE = SummingMergeTree((rows, inserts)) ORDER BY (site_id, seq)"); err != nil {
			b.Fatal(err)
		}
		q := fmt.Sprintf("INSERT INTO %s (site_id, seq, rows, inserts) SELECT concat('site-', toString(number %% %d)), intDiv(number, %d) + 1, 500, 1 FROM numbers(%d)",
			table, benchSites, benchSites, benchLedgerRow)
		if err := s.Conn().Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
		return
	}
	q := fmt.Sprintf("INSERT INTO %s (site_id, buffer_id, seq, rows, inserts) SELECT concat('site-', toString(number %% %d)), 'buf', %d + intDiv(number, %d) + 1, 500, 1 FROM numbers(%d)",
		table, benchSites, lifelinev1.LegacySeqLimit, benchSites, benchLedgerRow)
	if err := s.Conn().Exec(ctx, q); err != nil {
		b.Fatal(err)
	}
	if err := s.Conn().Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkWelcome measures a handshake's ledger reads on 10 M rows.
//
//   - before: the ledger keyed by (site_id, seq) as it was, and an agent
//     with an empty buffer (oldest 0) reading its site's whole history;
//   - span: now, an agent reconnecting with 100 batches buffered at the end
//     of its history reads their span and the newest number beyond it;
//   - empty: now, an agent with an empty buffer asks only for the newest
//     number beyond the last it handed out.
func BenchmarkWelcome(b *testing.B) {
	s := storetest.Open(b)
	fillLedger(b, s, "ledger_before", true)
	fillLedger(b, s, "ingest_batches", false)
	ctx := context.Background()
	newest := lifelinev1.LegacySeqLimit + benchPerSite
	b.Run("before", func(b *testing.B) {
		for i := range b.N {
			rows, err := s.Conn().Query(ctx, "SELECT DISTINCT seq FROM ledger_before WHERE site_id = ? AND seq >= ? ORDER BY seq",
				fmt.Sprintf("site-%d", i%benchSites), uint64(0))
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				n++
			}
			rows.Close()
			if n != benchPerSite {
				b.Fatalf("%d seqs", n)
			}
		}
	})
	b.Run("span", func(b *testing.B) {
		for i := range b.N {
			site := fmt.Sprintf("site-%d", i%benchSites)
			got, err := s.Committed(ctx, store.Span{SiteID: site, BufferID: "buf", From: newest - 99, To: newest})
			if err != nil {
				b.Fatal(err)
			}
			if len(got) != 1 || got[0].GetLast()-got[0].GetFirst() != 99 {
				b.Fatalf("committed %v", got)
			}
			n, err := s.NewestCommitted(ctx, site, "buf", newest)
			if err != nil || n != newest {
				b.Fatalf("newest %d, %v", n, err)
			}
		}
	})
	b.Run("empty", func(b *testing.B) {
		for i := range b.N {
			n, err := s.NewestCommitted(ctx, fmt.Sprintf("site-%d", i%benchSites), "buf", newest)
			if err != nil || n != newest {
				b.Fatalf("newest %d, %v", n, err)
			}
		}
	})
}
