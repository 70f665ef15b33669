package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// TableRejectedBatches keeps what ClickHouse refused for good, with the
// payload and the reason: nothing an agent sent is deleted without a record.
const TableRejectedBatches = "rejected_batches"

// States of a rejected_batches row. The newest row of a (site_id, seq)
// wins (ReplacingMergeTree on version).
const (
	// RejectSplitting: the batch was refused and is being split to find the
	// rows at fault; the payload is the whole batch. A record left in this
	// state (the aggregator stopped during the split) may have some of its
	// rows stored already; Reinject skips those.
	RejectSplitting = "splitting"
	// RejectSetAside: the split is done; the payload holds only the rows
	// ClickHouse refused, the rest of the batch is stored.
	RejectSetAside = "set_aside"
	// RejectReinjected: the payload was stored again by Reinject.
	RejectReinjected = "reinjected"
)

func rejectedDDL(caps Capabilities) string {
	lc := "String"
	if caps.LowCardinality {
		lc = "LowCardinality(String)"
	}
	return `CREATE TABLE IF NOT EXISTS rejected_batches (
    site_id     ` + lc + `,
    buffer_id   ` + lc + `,
    seq         UInt64,
    state       Enum8('splitting' = 1, 'set_aside' = 2, 'reinjected' = 3),
    reason      String,
    error_code  Int32,
    samples     UInt32,
    gaps        UInt32,
    backfill    UInt8,
    payload     String,
    received_at DateTime('UTC'),
    rejected_at DateTime('UTC'),
    version     UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (site_id, buffer_id, seq)`
}

const insertRejectedSQL = "INSERT INTO rejected_batches (site_id, buffer_id, seq, state, reason, error_code, " +
	"samples, gaps, backfill, payload, received_at, rejected_at, version)"

// Rejected is a batch, or the rows of one, that ClickHouse refused for good.
type Rejected struct {
	Batch      *Batch // the refused samples and gaps; SiteID and Seq identify it
	State      string // RejectSplitting, RejectSetAside or RejectReinjected
	Reason     string
	Code       int32 // the ClickHouse exception code, 0 if none
	ReceivedAt time.Time
}

// SetAsideError reports a batch whose refused rows were set aside in
// rejected_batches while the rest of it was stored: the batch is settled
// and its agent may delete it.
type SetAsideError struct {
	Samples int
	Reason  string
}

func (e *SetAsideError) Error() string {
	return fmt.Sprintf("%d samples set aside in %s: %s", e.Samples, TableRejectedBatches, e.Reason)
}

// SetAside records r durably. Recording the same batch again replaces the
// earlier record.
func (s *Store) SetAside(ctx context.Context, r Rejected) (err error) {
	defer func() { err = classify(err) }()
	conn, _, err := s.connCaps()
	if err != nil {
		return err
	}
	b := r.Batch
	payload, err := proto.Marshal(&lifelinev1.Batch{Seq: b.Seq, Samples: b.Samples, Backfill: b.Backfill, Gaps: b.Gaps})
	if err != nil {
		return permanent(fmt.Errorf("set aside %s/%d: encode: %w", b.SiteID, b.Seq, err))
	}
	var backfill uint8
	if b.Backfill {
		backfill = 1
	}
	now := time.Now()
	batch, err := conn.PrepareBatch(ctx, insertRejectedSQL)
	if err != nil {
		return fmt.Errorf("set aside %s/%d: prepare: %w", b.SiteID, b.Seq, err)
	}
	defer batch.Abort()
	if err := batch.Append(b.SiteID, b.BufferID, b.Seq, r.State, r.Reason, r.Code, uint32(len(b.Samples)), uint32(len(b.Gaps)),
		backfill, string(payload), r.ReceivedAt.UTC(), now.UTC(), uint64(now.UnixNano())); err != nil {
		return permanent(fmt.Errorf("set aside %s/%d: %w", b.SiteID, b.Seq, err))
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("set aside %s/%d: %w", b.SiteID, b.Seq, err)
	}
	return nil
}

// InsertPart stores part of a batch whose whole was refused: its samples
// and gaps, without the ledger check that Insert makes (the other parts of
// the batch already put its seq into the ledger).
func (s *Store) InsertPart(ctx context.Context, b *Batch) (err error) {
	defer func() { err = classify(err) }()
	conn, caps, err := s.connCaps()
	if err != nil {
		return err
	}
	if err := s.unsettled.wait(ctx, conn); err != nil {
		return err
	}
	batches := []*Batch{b}
	if len(b.Gaps) > 0 {
		if err := s.insertGaps(ctx, conn, caps, batches, len(b.Gaps)); err != nil {
			return err
		}
	}
	if len(b.Samples) > 0 {
		return s.insertSamples(ctx, conn, caps, batches, len(b.Samples))
	}
	return nil
}

// ErrNothingToReinject is returned by Reinject when the batch has no record
// waiting to be stored.
var ErrNothingToReinject = errors.New("no set-aside record waiting for this batch")

// Reinject stores a set-aside batch again, once whatever made ClickHouse
// refuse it is fixed: the rows of its newest record that samples does not
// hold yet are inserted, and the record is marked reinjected. It returns
// how many samples it stored. If ClickHouse still refuses them, the
// record stays as it was.
func (s *Store) Reinject(ctx context.Context, siteID, bufferID string, seq uint64) (int, error) {
	conn, _, err := s.connCaps()
	if err != nil {
		return 0, err
	}
	var (
		payload, state, reason string
		code                   int32
		received               time.Time
	)
	err = conn.QueryRow(ctx, `SELECT argMax(payload, version), argMax(toString(state), version),
    argMax(reason, version), argMax(error_code, version), argMax(received_at, version)
FROM rejected_batches WHERE site_id = ? AND buffer_id = ? AND seq = ? HAVING count() > 0`, siteID, bufferID, seq).
		Scan(&payload, &state, &reason, &code, &received)
	if err != nil {
		return 0, fmt.Errorf("reinject %s/%d: %w (%w)", siteID, seq, ErrNothingToReinject, err)
	}
	if state == RejectReinjected {
		return 0, fmt.Errorf("reinject %s/%d: %w (already reinjected)", siteID, seq, ErrNothingToReinject)
	}
	var pb lifelinev1.Batch
	if err := proto.Unmarshal([]byte(payload), &pb); err != nil {
		return 0, fmt.Errorf("reinject %s/%d: decode payload: %w", siteID, seq, err)
	}
	keys := make([]SampleKey, len(pb.GetSamples()))
	for i, smp := range pb.GetSamples() {
		keys[i] = SampleKey{PointID: smp.GetPointId(), TsNs: smp.GetSourceTimeNs()}
	}
	stored, err := s.Existing(ctx, siteID, keys)
	if err != nil {
		return 0, fmt.Errorf("reinject %s/%d: %w", siteID, seq, err)
	}
	b := &Batch{SiteID: siteID, BufferID: bufferID, Seq: seq, Backfill: pb.GetBackfill(), Gaps: pb.GetGaps()}
	for i, smp := range pb.GetSamples() {
		if _, ok := stored[keys[i]]; !ok {
			b.Samples = append(b.Samples, smp)
		}
	}
	if err := s.InsertPart(ctx, b); err != nil {
		return 0, fmt.Errorf("reinject %s/%d: %w", siteID, seq, err)
	}
	done := &Batch{SiteID: siteID, BufferID: bufferID, Seq: seq, Backfill: pb.GetBackfill(), Samples: pb.GetSamples(), Gaps: pb.GetGaps()}
	if err := s.SetAside(ctx, Rejected{Batch: done, State: RejectReinjected, Reason: reason, Code: code, ReceivedAt: received}); err != nil {
		return len(b.Samples), fmt.Errorf("reinject %s/%d: stored, but marking the record: %w", siteID, seq, err)
	}
	return len(b.Samples), nil
}
