package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Batch is one agent batch to store: every sample of it is written by the
// same INSERT, and its sequence number enters the ledger with them.
type Batch struct {
	SiteID string
	// BufferID is the agent buffer's identity from its Hello ("" from
	// agents older than buffer identities). With Seq it keys the ledger.
	BufferID string
	Seq      uint64
	Backfill bool
	Samples  []*lifelinev1.Sample
	// Gaps are spans of data the agent lost, stored in the gaps table.
	Gaps []*lifelinev1.Gap
	// Liveness lists points alive without a change, per minute (the
	// point_liveness table).
	Liveness []*lifelinev1.Liveness
	// ConditionEvents are the OPC UA servers' own alarm events (the
	// condition_events table).
	ConditionEvents []*lifelinev1.ConditionEvent
}

// BackfillHistory is samples.backfill for a value the agent read from its
// OPC UA server's history (HistoryRead) for a span it was not reading.
const BackfillHistory uint8 = 2

// Values of samples.value_type.
const (
	valueNumber int8 = 1
	valueBool   int8 = 2
	valueText   int8 = 3
)

// insertSamples lists the samples columns Insert writes, in the order of
// columns.slices. inserted_at takes its default.
const insertSamples = "INSERT INTO samples (site_id, point_id, ts, ts_ns, server_ns, recv_ns, " +
	"value, value_text, value_type, status, good, seq, backfill, buffer_id)"

const insertLedger = "INSERT INTO ingest_batches (site_id, buffer_id, seq, rows, inserts)"

// Range of samples.ts. Source times outside it are clamped in ts (so one
// absurd timestamp cannot fail a whole insert); ts_ns keeps the exact value.
var (
	dateTimeMin   = time.Unix(0, 0).UTC()
	dateTimeMax   = time.Unix(math.MaxUint32, 0).UTC()
	dateTime64Min = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	dateTime64Max = time.Date(2262, 4, 11, 0, 0, 0, 0, time.UTC)
)

// columns holds one INSERT's column slices; Insert reuses them through a
// pool so steady-state inserts do not allocate per row. They are live
// while inserts run and pooled between, so every byte a row takes here is
// heap the collector marks: ts is the clamped time as the driver reads an
// int64 (seconds for DateTime, milliseconds for DateTime64(3)) rather than
// a time.Time (24 bytes and a pointer), and with LowCardinality the site,
// point and buffer IDs are kept only as the boxes the driver takes.
type columns struct {
	site     []string
	point    []string
	ts       []int64
	tsNs     []int64
	serverNs []int64
	recvNs   []int64
	value    []float64
	text     []string
	vtype    []int8
	status   []uint32
	good     []uint8
	seq      []uint64
	backfill []uint8
	buffer   []string
	// The LowCardinality columns as interfaces (see boxes.go), when the
	// server has LowCardinality.
	siteBoxes, pointBoxes, bufferBoxes []any
}

func (c *columns) reset() {
	// Drop references to the samples' strings, keep the capacity.
	clear(c.site)
	clear(c.point)
	clear(c.text)
	clear(c.buffer)
	c.site, c.point, c.ts = c.site[:0], c.point[:0], c.ts[:0]
	c.tsNs, c.serverNs, c.recvNs = c.tsNs[:0], c.serverNs[:0], c.recvNs[:0]
	c.value, c.text, c.vtype = c.value[:0], c.text[:0], c.vtype[:0]
	c.status, c.good, c.seq, c.backfill = c.status[:0], c.good[:0], c.seq[:0], c.backfill[:0]
	c.buffer = c.buffer[:0]
	clear(c.siteBoxes)
	clear(c.pointBoxes)
	clear(c.bufferBoxes)
	c.siteBoxes, c.pointBoxes, c.bufferBoxes = c.siteBoxes[:0], c.pointBoxes[:0], c.bufferBoxes[:0]
}

// grow makes room for n rows; boxed, for the IDs as boxes only.
func (c *columns) grow(n int, boxed bool) {
	if boxed {
		c.siteBoxes = growTo(c.siteBoxes, n)
		c.pointBoxes = growTo(c.pointBoxes, n)
		c.bufferBoxes = growTo(c.bufferBoxes, n)
	} else {
		c.site = growTo(c.site, n)
		c.point = growTo(c.point, n)
		c.buffer = growTo(c.buffer, n)
	}
	c.ts = growTo(c.ts, n)
	c.tsNs = growTo(c.tsNs, n)
	c.serverNs = growTo(c.serverNs, n)
	c.recvNs = growTo(c.recvNs, n)
	c.value = growTo(c.value, n)
	c.text = growTo(c.text, n)
	c.vtype = growTo(c.vtype, n)
	c.status = growTo(c.status, n)
	c.good = growTo(c.good, n)
	c.seq = growTo(c.seq, n)
	c.backfill = growTo(c.backfill, n)
}

func growTo[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, 0, n)
	}
	return s
}

// tsRange is samples.ts's range in nanoseconds, and the divisor that makes
// a clamped time what the driver writes: seconds for DateTime,
// milliseconds for DateTime64(3) (both truncate toward zero, as the driver
// does from a time.Time).
func tsRange(dt64 bool) (lo, hi, unit int64) {
	if dt64 {
		return dateTime64Min.UnixNano(), dateTime64Max.UnixNano(), int64(time.Millisecond)
	}
	return dateTimeMin.UnixNano(), dateTimeMax.UnixNano(), int64(time.Second)
}

// add converts the samples of b into rows; with boxes (LowCardinality),
// the IDs go into the box columns.
func (c *columns) add(b *Batch, dt64 bool, boxes *boxCache) {
	lo, hi, unit := tsRange(dt64)
	var backfill uint8
	if b.Backfill {
		backfill = 1
	}
	buffer := b.ledgerBufferID()
	if boxes != nil {
		c.siteBoxes = appendN(c.siteBoxes, any(b.SiteID), len(b.Samples))
		c.bufferBoxes = appendN(c.bufferBoxes, any(buffer), len(b.Samples))
		c.pointBoxes = boxes.boxEach(c.pointBoxes, len(b.Samples), func(i int) string { return b.Samples[i].GetPointId() })
	} else {
		c.site = appendN(c.site, b.SiteID, len(b.Samples))
		c.buffer = appendN(c.buffer, buffer, len(b.Samples))
	}
	for _, s := range b.Samples {
		value, text, vtype := sampleValue(s)
		var good uint8
		if s.GetStatus()>>30 == 0 {
			good = 1
		}
		if boxes == nil {
			c.point = append(c.point, s.GetPointId())
		}
		c.ts = append(c.ts, min(max(s.GetSourceTimeNs(), lo), hi)/unit)
		c.tsNs = append(c.tsNs, s.GetSourceTimeNs())
		c.serverNs = append(c.serverNs, s.GetServerTimeNs())
		c.recvNs = append(c.recvNs, s.GetReceiveTimeNs())
		c.value = append(c.value, value)
		c.text = append(c.text, text)
		c.vtype = append(c.vtype, vtype)
		c.status = append(c.status, s.GetStatus())
		c.good = append(c.good, good)
		c.seq = append(c.seq, b.Seq)
		if s.GetHistory() {
			// Read back from the OPC UA server's history: 2, so analysts
			// tell it from a link backlog (1).
			c.backfill = append(c.backfill, BackfillHistory)
		} else {
			c.backfill = append(c.backfill, backfill)
		}
	}
}

// appendN appends n copies of v to s.
func appendN[T any](s []T, v T, n int) []T {
	for range n {
		s = append(s, v)
	}
	return s
}

// sampleValue maps a sample's value to (value, value_text, value_type):
// numbers as is, bools as 0/1, text as NaN plus the string. A sample without
// a value (possible with a bad status) is a NaN number.
func sampleValue(s *lifelinev1.Sample) (float64, string, int8) {
	switch v := s.GetValue().(type) {
	case *lifelinev1.Sample_Number:
		return v.Number, "", valueNumber
	case *lifelinev1.Sample_Flag:
		if v.Flag {
			return 1, "", valueBool
		}
		return 0, "", valueBool
	case *lifelinev1.Sample_Text:
		return math.NaN(), v.Text, valueText
	default:
		return math.NaN(), "", valueNumber
	}
}

// slices returns the slices in insertSamples' column order; the IDs as
// the boxes add made when it was given a boxCache.
func (c *columns) slices(boxed bool) []any {
	var site, point, buffer any = c.site, c.point, c.buffer
	if boxed {
		site, point, buffer = c.siteBoxes, c.pointBoxes, c.bufferBoxes
	}
	return []any{site, point, c.ts, c.tsNs, c.serverNs, c.recvNs,
		c.value, c.text, c.vtype, c.status, c.good, c.seq, c.backfill, buffer}
}

// Insert stores batches: all their samples in one columnar INSERT into
// samples (which records their sequence numbers in the ledger through
// ingest_batches_mv), then batches without samples straight into the
// ledger. When Insert returns nil every batch is committed. Errors wrapping
// a PermanentError mean the input itself is at fault; a ThrottleError, that
// the server is overloaded.
func (s *Store) Insert(ctx context.Context, batches []*Batch) (err error) {
	defer func() { err = classify(err) }()
	conn, caps, err := s.connCaps()
	if err != nil {
		return err
	}
	rows, empty, gaps := 0, 0, 0
	for i, b := range batches {
		switch {
		case b == nil:
			return permanent(fmt.Errorf("insert: batch %d is nil", i))
		case b.SiteID == "":
			return permanent(fmt.Errorf("insert: batch %d (seq %d) has no site id", i, b.Seq))
		}
		for j, smp := range b.Samples {
			if smp == nil {
				return permanent(fmt.Errorf("insert: site %s seq %d: sample %d is nil", b.SiteID, b.Seq, j))
			}
		}
		rows += len(b.Samples)
		gaps += len(b.Gaps)
		if len(b.Samples) == 0 {
			empty++
		}
	}
	if err := s.unsettled.wait(ctx, conn); err != nil {
		return err
	}
	if len(batches) > 0 {
		kept, err := s.skipCommitted(ctx, conn, batches)
		if err != nil {
			return err
		}
		if len(kept) < len(batches) {
			batches, rows, empty, gaps = kept, 0, 0, 0
			for _, b := range batches {
				rows += len(b.Samples)
				gaps += len(b.Gaps)
				if len(b.Samples) == 0 {
					empty++
				}
			}
		}
	}
	// Gaps go first: should the samples insert fail, the batch is retried
	// and its gap rows, keyed by (site, seq, index), collapse on merge.
	if gaps > 0 {
		if err := s.insertGaps(ctx, conn, caps, batches, gaps); err != nil {
			return err
		}
	}
	if n := livenessRows(batches); n > 0 {
		if err := s.insertLiveness(ctx, conn, batches, n); err != nil {
			return err
		}
	}
	if n := conditionEventRows(batches); n > 0 {
		if err := s.insertConditionEvents(ctx, conn, batches, n); err != nil {
			return err
		}
	}
	if rows > 0 {
		if err := s.insertSamples(ctx, s.insertConn(conn), caps, batches, rows); err != nil {
			return err
		}
	}
	if empty > 0 {
		if err := s.insertEmpty(ctx, conn, batches, empty); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) insertSamples(ctx context.Context, conn driver.Conn, caps Capabilities, batches []*Batch, rows int) error {
	c, _ := s.pool.Get().(*columns)
	if c == nil {
		c = new(columns)
	}
	defer func() {
		c.reset()
		s.pool.Put(c)
	}()
	var boxes *boxCache
	if caps.LowCardinality {
		boxes = &s.boxes
	}
	c.grow(rows, boxes != nil)
	for _, b := range batches {
		c.add(b, caps.DateTime64, boxes)
	}
	ctx, queryID := tagInsert(ctx)
	batch, err := conn.PrepareBatch(ctx, insertSamples)
	if err != nil {
		return fmt.Errorf("insert samples: prepare: %w", err)
	}
	defer batch.Abort()
	for i, col := range c.slices(boxes != nil) {
		if err := batch.Column(i).Append(col); err != nil {
			// The driver refused our own slice: retrying cannot help.
			return permanent(fmt.Errorf("insert samples: column %d: %w", i, err))
		}
	}
	if err := batch.Send(); err != nil {
		s.unsettled.note(queryID, err)
		return fmt.Errorf("insert samples (%d rows, %d batches): %w", rows, len(batches), err)
	}
	return nil
}

// insertEmpty records batches that have no samples in the ledger.
func (s *Store) insertEmpty(ctx context.Context, conn driver.Conn, batches []*Batch, n int) error {
	sites := make([]string, 0, n)
	buffers := make([]string, 0, n)
	seqs := make([]uint64, 0, n)
	for _, b := range batches {
		if len(b.Samples) == 0 {
			sites = append(sites, b.SiteID)
			buffers = append(buffers, b.ledgerBufferID())
			seqs = append(seqs, b.Seq)
		}
	}
	ones := make([]uint64, n)
	for i := range ones {
		ones[i] = 1
	}
	batch, err := conn.PrepareBatch(ctx, insertLedger)
	if err != nil {
		return fmt.Errorf("insert empty batches: prepare: %w", err)
	}
	defer batch.Abort()
	for i, col := range []any{sites, buffers, seqs, make([]uint64, n), ones} {
		if err := batch.Column(i).Append(col); err != nil {
			return permanent(fmt.Errorf("insert empty batches: column %d: %w", i, err))
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert empty batches (%d): %w", n, err)
	}
	return nil
}
