package uplink

import (
	"context"
	"fmt"
	"sync"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// ackBatch hands acks from the stream's receiver to the goroutine that
// deletes them: all acks that arrive while one deletion commits are
// deleted together by the next, in one synced transaction.
type ackBatch struct {
	mu      sync.Mutex
	pending []*lifelinev1.Ack
	ready   chan struct{} // capacity 1: pending is not empty
}

func (a *ackBatch) push(ack *lifelinev1.Ack) {
	a.mu.Lock()
	a.pending = append(a.pending, ack)
	a.mu.Unlock()
	select {
	case a.ready <- struct{}{}:
	default:
	}
}

func (a *ackBatch) take() []*lifelinev1.Ack {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.pending
	a.pending = nil
	return out
}

func (u *Uplink) receiveAcks(stream lifelinev1.Ingest_StreamClient, acks *ackBatch) error {
	for {
		msg, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		if ack := msg.GetAck(); ack != nil {
			acks.push(ack)
		}
		if nack := msg.GetNack(); nack != nil {
			return u.nacked(nack)
		}
	}
}

// deleteAcked deletes acked batches from the buffer, as many at once as
// have arrived, and only then frees their window slots. When ctx ends it
// deletes what was already acked and returns.
func (u *Uplink) deleteAcked(ctx context.Context, acks *ackBatch, w *window) error {
	for {
		select {
		case <-acks.ready:
		case <-ctx.Done():
			return u.settle(acks.take(), w)
		}
		if err := u.settle(acks.take(), w); err != nil {
			return err
		}
	}
}

// settle deletes the batches of acks and accounts for them.
func (u *Uplink) settle(acks []*lifelinev1.Ack, w *window) error {
	if len(acks) == 0 {
		return nil
	}
	w.watch.progress()
	seqs := make([]uint64, len(acks))
	for i, ack := range acks {
		seqs[i] = ack.GetSeq()
	}
	if err := u.q.Delete(seqs...); err != nil {
		return fmt.Errorf("delete %d acked batches (%d…%d): %w", len(seqs), seqs[0], seqs[len(seqs)-1], err)
	}
	for _, ack := range acks {
		if g := int(ack.GetWindowSamples()); g > 0 {
			w.liveCredit.setGrant(g)
			w.backlogCredit.setGrant(g)
			select {
			case w.freed <- struct{}{}: // a larger grant may let the backlog go on
			default:
			}
		}
		w.mu.Lock()
		b, ok := w.sent[ack.GetSeq()]
		delete(w.sent, ack.GetSeq())
		w.mu.Unlock()
		if ok {
			if b.live {
				<-w.live
				w.liveCredit.give(b.samples)
			} else {
				<-w.backlog
				w.backlogCredit.give(b.samples)
				select {
				case w.freed <- struct{}{}:
				default:
				}
			}
		}
		n := b.samples
		if rej := ack.GetRejected(); len(rej) > 0 {
			u.rejected.Add(uint64(len(rej)))
			u.logger.Warn("aggregator refused samples", "seq", ack.GetSeq(), "count", len(rej),
				"point", rej[0].GetPointId(), "reason", rej[0].GetReason())
		}
		u.noteSetAside(ack)
		u.duplicates.Add(uint64(ack.GetDuplicates()))
		u.ackedBatches.Add(1)
		u.ackedSamples.Add(uint64(max(0, n-len(ack.GetRejected())-int(ack.GetDuplicates())-int(ack.GetSetAsideSamples()))))
		if ok {
			// Last, so that no batch in flight means every ack is counted.
			u.inFlight.Add(-1)
		}
	}
	return nil
}
