package store

import (
	"context"
	"fmt"
	"math"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Span names the batches of one agent buffer between two sequence numbers,
// both inclusive. BufferID is what the agent's Hello named; numbers below
// lifelinev1.LegacySeqLimit are looked up under the legacy identity "" (see
// lifelinev1.LedgerBufferID).
type Span struct {
	SiteID   string
	BufferID string
	From, To uint64
}

// where returns the ledger condition selecting s: one key range of the
// ledger's ORDER BY (site_id, buffer_id, seq) per identity it covers.
func (s Span) where() (string, []any) {
	var conds []string
	var args []any
	if s.From < lifelinev1.LegacySeqLimit && s.BufferID != "" {
		conds = append(conds, "(site_id = ? AND buffer_id = '' AND seq >= ? AND seq <= ?)")
		args = append(args, s.SiteID, s.From, min(s.To, lifelinev1.LegacySeqLimit-1))
		if s.To < lifelinev1.LegacySeqLimit {
			return conds[0], args
		}
		s.From = lifelinev1.LegacySeqLimit
	}
	conds = append(conds, "(site_id = ? AND buffer_id = ? AND seq >= ? AND seq <= ?)")
	args = append(args, s.SiteID, s.BufferID, s.From, s.To)
	return strings.Join(conds, " OR "), args
}

// Committed returns the committed sequence numbers of span, merged into
// ordered, inclusive ranges. It reads only span's rows of the ledger.
func (s *Store) Committed(ctx context.Context, span Span) ([]*lifelinev1.SeqRange, error) {
	if span.From > span.To {
		return nil, nil
	}
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	from, ctx, err := s.fromEveryReplica(ctx, conn, "ingest_batches")
	if err != nil {
		return nil, err
	}
	where, args := span.where()
	var ranges []*lifelinev1.SeqRange
	var cur *lifelinev1.SeqRange
	err = queryEach(ctx, conn, fmt.Sprintf("committed batches of %s/%s", span.SiteID, span.BufferID), func(rows driver.Rows) error {
		var seq uint64
		if err := rows.Scan(&seq); err != nil {
			return err
		}
		if cur != nil && seq == cur.Last+1 {
			cur.Last = seq
			return nil
		}
		if cur != nil && seq <= cur.Last { // DISTINCT and ORDER BY make this unreachable
			return nil
		}
		cur = &lifelinev1.SeqRange{First: seq, Last: seq}
		ranges = append(ranges, cur)
		return nil
	}, "SELECT DISTINCT seq FROM "+from+" WHERE "+where+" ORDER BY seq", args...)
	if err != nil {
		return nil, err
	}
	return ranges, nil
}

// NewestCommitted returns the largest sequence number the ledger holds for
// the site's buffer at or after from, 0 if none. Only the ledger rows from
// there on are read: the agent passes the newest number it ever handed out,
// so a consistent buffer costs one index lookup.
func (s *Store) NewestCommitted(ctx context.Context, siteID, bufferID string, from uint64) (uint64, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return 0, err
	}
	table, ctx, err := s.fromEveryReplica(ctx, conn, "ingest_batches")
	if err != nil {
		return 0, err
	}
	var newest uint64
	where, args := Span{SiteID: siteID, BufferID: bufferID, From: from, To: math.MaxUint64}.where()
	row := conn.QueryRow(ctx, "SELECT max(seq) FROM "+table+" WHERE "+where, args...)
	if err := row.Scan(&newest); err != nil {
		return 0, fmt.Errorf("newest committed batch of %s/%s: %w", siteID, bufferID, err)
	}
	return newest, nil
}
