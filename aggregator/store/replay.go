package store

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// sitesPerQuery bounds the sites one read-back query names, so that its
// text stays far below ClickHouse's max_query_size (256 KiB).
const sitesPerQuery = 500

// SeqRange is a range of a site's batch sequence numbers, both ends
// included.
//
// FromNs and ToNs, when ToNs is not 0, bound the source times (ts_ns) of
// the samples of those batches, both included, as the one who saw the
// batches knows them. seq is not in the samples' sorting key, so without
// them a read-back reads the seq column of the site's whole history; with
// them it reads the granules of that span of each point (the key's
// ts_ns) and, through ts, the partitions of those months.
type SeqRange struct {
	First, Last  uint64
	FromNs, ToNs int64 `json:",omitempty"`
}

// Widen returns r extended to the batch seq and its samples' source times
// fromNs..toNs; a batch without samples (toNs 0) widens only the sequence
// numbers. The zero SeqRange is empty.
func (r SeqRange) Widen(seq uint64, fromNs, toNs int64) SeqRange {
	if r == (SeqRange{}) {
		return SeqRange{First: seq, Last: seq, FromNs: fromNs, ToNs: toNs}
	}
	r.First, r.Last = min(r.First, seq), max(r.Last, seq)
	switch {
	case toNs == 0:
	case r.ToNs == 0:
		r.FromNs, r.ToNs = fromNs, toNs
	default:
		r.FromNs, r.ToNs = min(r.FromNs, fromNs), max(r.ToNs, toNs)
	}
	return r
}

// Merge returns the range covering r and o, both built by Widen: a range
// without a span is taken as one of batches without samples.
func (r SeqRange) Merge(o SeqRange) SeqRange {
	if o == (SeqRange{}) {
		return r
	}
	return r.Widen(o.First, o.FromNs, o.ToNs).Widen(o.Last, 0, 0)
}

// LatestSeq returns the largest committed sequence number of a site (0 if
// none).
func (s *Store) LatestSeq(ctx context.Context, siteID string) (uint64, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return 0, err
	}
	var seq uint64
	if err := conn.QueryRow(ctx, "SELECT max(seq) FROM ingest_batches WHERE site_id = ?", siteID).Scan(&seq); err != nil {
		return 0, fmt.Errorf("latest batch of %s: %w", siteID, err)
	}
	return seq, nil
}

// LatestSeqs is LatestSeq of many sites, in one query for up to
// sitesPerQuery of them; sites without batches are absent.
func (s *Store) LatestSeqs(ctx context.Context, sites []string) (map[string]uint64, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(sites))
	for chunk := range slices.Chunk(sites, sitesPerQuery) {
		err := queryEach(ctx, conn, "latest batches", func(rows driver.Rows) error {
			var site string
			var seq uint64
			if err := rows.Scan(&site, &seq); err != nil {
				return err
			}
			out[site] = seq
			return nil
		}, "SELECT site_id, max(seq) FROM ingest_batches WHERE site_id IN ? GROUP BY site_id", inSet(chunk))
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ReplayBatches reads back the committed batches of a site with sequence
// numbers in [from, to], in sequence order, and calls fn with each (samples
// in point and source-time order). A batch stored twice comes back with
// each sample twice. Memory is bounded by one batch.
func (s *Store) ReplayBatches(ctx context.Context, siteID string, from, to uint64, fn func(*Batch) error) error {
	return s.ReplaySites(ctx, map[string]SeqRange{siteID: {First: from, Last: to}}, fn)
}

// ReplaySites is ReplayBatches for many sites, in one query for up to
// sitesPerQuery of them: sites in name order, each site's batches in
// sequence order. Memory is bounded by one batch.
func (s *Store) ReplaySites(ctx context.Context, ranges map[string]SeqRange, fn func(*Batch) error) error {
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(slices.Sorted(maps.Keys(ranges)), sitesPerQuery) {
		if err := s.replayChunk(ctx, conn, chunk, ranges, fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) replayChunk(ctx context.Context, conn driver.Conn, sites []string, ranges map[string]SeqRange, fn func(*Batch) error) error {
	var where strings.Builder
	args := []any{inSet(sites)}
	bounded, fromSec, toSec := true, int64(math.MaxInt64), int64(math.MinInt64)
	for i, site := range sites {
		if i > 0 {
			where.WriteString(" OR ")
		}
		r := ranges[site]
		where.WriteString("(site_id = ? AND seq >= ? AND seq <= ?")
		args = append(args, site, r.First, r.Last)
		if r.ToNs != 0 {
			where.WriteString(" AND ts_ns >= ? AND ts_ns <= ?")
			args = append(args, r.FromNs, r.ToNs)
			fromSec, toSec = min(fromSec, floorSec(r.FromNs)), max(toSec, floorSec(r.ToNs)+1)
		} else {
			bounded = false
		}
		where.WriteString(")")
	}
	// ts, the partition key's column, holds ts_ns in seconds (clamped to
	// DateTime's range, which a bound outside that range must not cut).
	if bounded && fromSec > 0 && toSec < math.MaxUint32 {
		where.WriteString(") AND (ts >= toDateTime(?) AND ts < toDateTime(?)")
		args = append(args, fromSec, toSec)
	}
	what := fmt.Sprintf("replay batches of %s", sites[0])
	if len(sites) > 1 {
		what = fmt.Sprintf("replay batches of %d sites", len(sites))
	}
	rows, err := conn.Query(ctx, `SELECT site_id, seq, backfill, point_id, ts_ns, value, value_text, value_type, status
FROM samples WHERE site_id IN ? AND (`+where.String()+`) ORDER BY site_id, seq, point_id, ts_ns`, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var cur *Batch
	for rows.Next() {
		var (
			site     string
			seq      uint64
			backfill uint8
			point    string
			tsNs     int64
			value    float64
			text     string
			vtype    string
			status   uint32
		)
		if err := rows.Scan(&site, &seq, &backfill, &point, &tsNs, &value, &text, &vtype, &status); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if cur != nil && (cur.Seq != seq || cur.SiteID != site) {
			if err := fn(cur); err != nil {
				return err
			}
			cur = nil
		}
		if cur == nil {
			cur = &Batch{SiteID: site, Seq: seq, Backfill: backfill == 1}
		}
		cur.Samples = append(cur.Samples, replayedSample(point, tsNs, value, text, vtype, status))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if cur != nil {
		return fn(cur)
	}
	return nil
}

// floorSec is ns in whole seconds, rounded down.
func floorSec(ns int64) int64 {
	s := ns / 1e9
	if ns%1e9 < 0 {
		s--
	}
	return s
}

// replayedSample rebuilds a sample from its stored columns.
func replayedSample(point string, tsNs int64, value float64, text, vtype string, status uint32) *lifelinev1.Sample {
	smp := &lifelinev1.Sample{PointId: point, SourceTimeNs: tsNs, Status: status}
	switch vtype {
	case "bool":
		smp.Value = &lifelinev1.Sample_Flag{Flag: value != 0}
	case "text":
		smp.Value = &lifelinev1.Sample_Text{Text: text}
	default:
		smp.Value = &lifelinev1.Sample_Number{Number: value}
	}
	return smp
}
