package writer

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Refuser sets aside what ClickHouse refuses for good; *store.Store is one.
// Without it a refused batch fails, and its agent keeps it.
type Refuser interface {
	// SetAside records refused rows durably, with their payload.
	SetAside(ctx context.Context, r store.Rejected) error
	// InsertPart stores part of a batch, bypassing the ledger check.
	InsertPart(ctx context.Context, b *store.Batch) error
}

// refuse settles one batch ClickHouse refused for good. The whole batch is
// first recorded in rejected_batches (so a crash in what follows loses
// nothing), then split in halves: halves that insert are committed, halves
// that fail are split again down to single rows. The record is then
// replaced by one holding only the refused rows, and the batch is reported
// as set aside, which lets its agent delete it. Should recording fail for
// good too, the batch fails and its agent sends it again later.
func (w *Writer) refuse(ctx context.Context, s *settlement, p pending, cause error) {
	r, ok := w.ins.(Refuser)
	if !ok {
		w.logger.Error("batch rejected", "site", p.b.SiteID, "seq", p.b.Seq, "error", cause)
		s.finish([]pending{p}, cause)
		return
	}
	b := p.b
	rec := store.Rejected{Batch: b, State: store.RejectSplitting, Reason: cause.Error(),
		Code: store.ErrorCode(cause), ReceivedAt: p.at}
	if err := w.retry(ctx, 1, func() error { return r.SetAside(ctx, rec) }); err != nil {
		w.logger.Error("batch refused and cannot be set aside; its agent will send it again",
			"site", b.SiteID, "seq", b.Seq, "refusal", cause, "error", err)
		s.finish([]pending{p}, fmt.Errorf("set aside refused batch: %w", err))
		return
	}
	budget := splitBudget
	bad, err := w.split(ctx, s, r, b, b.Samples, &budget)
	if err != nil {
		// The record holds the whole batch; the agent resends it and the
		// ledger, or a later split, settles what is stored.
		s.finish([]pending{p}, err)
		return
	}
	gaps := b.Gaps
	if len(gaps) > 0 {
		part := partOf(b, nil, gaps)
		err := w.retry(ctx, 1, func() error {
			start := time.Now()
			err := r.InsertPart(ctx, part)
			w.metrics.attempt(ctx, []*store.Batch{part}, time.Since(start), err)
			return err
		})
		if err != nil && !store.IsPermanent(err) {
			s.finish([]pending{p}, err)
			return
		}
		if err == nil {
			gaps = nil
		}
	}
	rec.Batch = partOf(b, bad, gaps)
	rec.State = store.RejectSetAside
	if err := w.retry(ctx, 1, func() error { return r.SetAside(ctx, rec) }); err != nil {
		// The first record, with the whole batch, stands.
		w.logger.Error("could not narrow a set-aside record to its refused rows",
			"site", b.SiteID, "seq", b.Seq, "error", err)
	}
	w.logger.Error("ClickHouse refused rows of a batch; set aside in rejected_batches",
		"site", b.SiteID, "seq", b.Seq, "refused", len(bad), "stored", len(b.Samples)-len(bad),
		"code", rec.Code, "error", cause)
	s.finish([]pending{p}, &store.SetAsideError{Samples: len(bad), Reason: cause.Error()})
}

// splitBudget bounds the refused inserts spent on splitting one batch. A
// few bad rows are found in a few dozen; a batch refused row after row
// (every value out of range) would cost two inserts per row, so past the
// budget what is left unsplit is set aside as it is.
const splitBudget = 64

// split stores what it can of samples, a part of b that ClickHouse refused
// as a whole, and returns the samples it refuses one by one (or, once
// budget is spent, the parts it refuses). It halves them: a half that
// inserts is committed, one that fails is split again. When the first half
// goes in, the second must be at fault and is split without trying it
// whole. It fails only if ctx ends.
func (w *Writer) split(ctx context.Context, s *settlement, r Refuser, b *store.Batch, samples []*lifelinev1.Sample, budget *int) ([]*lifelinev1.Sample, error) {
	if len(samples) <= 1 || *budget <= 0 {
		return samples, nil
	}
	h := len(samples) / 2
	first, second := samples[:h], samples[h:]
	ok, err := w.tryPart(ctx, s, r, b, first, budget)
	if err != nil {
		return nil, err
	}
	var bad []*lifelinev1.Sample
	if !ok {
		if bad, err = w.split(ctx, s, r, b, first, budget); err != nil {
			return nil, err
		}
		if ok, err = w.tryPart(ctx, s, r, b, second, budget); err != nil || ok {
			return bad, err
		}
	}
	rest, err := w.split(ctx, s, r, b, second, budget)
	if err != nil {
		return nil, err
	}
	return append(bad, rest...), nil
}

// tryPart inserts samples of b and reports whether they were committed
// (false: ClickHouse refused them for good, which spends budget).
func (w *Writer) tryPart(ctx context.Context, s *settlement, r Refuser, b *store.Batch, samples []*lifelinev1.Sample, budget *int) (bool, error) {
	part := partOf(b, samples, nil)
	err := w.retry(ctx, 1, func() error {
		start := time.Now()
		err := r.InsertPart(ctx, part)
		w.metrics.attempt(ctx, []*store.Batch{part}, time.Since(start), err)
		return err
	})
	switch {
	case err == nil:
		s.committed(part)
		return true, nil
	case store.IsPermanent(err):
		*budget--
		return false, nil
	default:
		return false, err
	}
}

// partOf returns b with only the given samples and gaps; every other field
// (the batch's identity) is b's.
func partOf(b *store.Batch, samples []*lifelinev1.Sample, gaps []*lifelinev1.Gap) *store.Batch {
	part := *b
	part.Samples, part.Gaps = samples, gaps
	return &part
}
