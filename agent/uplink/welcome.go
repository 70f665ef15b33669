package uplink

import (
	"errors"
	"fmt"

	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Identity is the buffer's identity and numbering, which the handshake
// states and, when the aggregator knows more of this buffer than the
// buffer does, repairs.
type Identity interface {
	ID() string
	// Last is the newest sequence number ever handed out; Epoch the
	// current open's epoch (numbers from it are epoch<<40 | counter).
	Last() uint64
	Epoch() uint64
	SkipPast(seq uint64) error
	Reidentify() (string, error)
}

// errReidentified ends a session whose buffer took a new identity: the
// next session introduces it.
var errReidentified = errors.New("buffer took a new identity; reconnecting with it")

// reconcile checks a Welcome against the buffer and returns the committed
// ranges it is safe to delete.
//
// newest_committed beyond the newest number this buffer ever handed out
// means the aggregator holds batches of this identity the buffer does not
// know of: the directory is a restored copy (or a clone), or a power cut
// lost the unsynced end of the buffer after those batches were sent. Then:
//
//   - Batches numbered in earlier epochs are the same batches the aggregator
//     had (a copy holds what the original held), so the ones it lists are
//     deleted as usual.
//   - If the aggregator holds numbers of the current epoch or later, another
//     copy used them for other data: no batch of the current epoch is
//     deleted, the buffer takes a new identity, and the session ends so
//     the next one sends them under it. After a power cut the current
//     epoch is new (it is synced before first use), so this never happens.
//   - Either way new numbers move past newest_committed.
//
// It returns the ranges to delete and whether the buffer must take a new
// identity once they are deleted.
func (u *Uplink) reconcile(w *lifelinev1.Welcome, hello *lifelinev1.Hello) ([]*lifelinev1.SeqRange, bool, error) {
	newest := w.GetNewestCommitted()
	if newest <= hello.GetNewestSeq() {
		return w.GetCommitted(), false, nil
	}
	u.behindLedger.Add(1)
	epochStart := u.q.Epoch() << buffer.EpochShift
	collides := newest >= epochStart
	u.logger.Error("BUFFER IS OLDER THAN WHAT IT SENT: the aggregator holds later batches of this buffer (a restored copy or a power cut)",
		"buffer", u.q.ID(), "buffer_newest_seq", hello.GetNewestSeq(), "newest_committed", newest,
		"numbers_reused", collides)
	if err := u.q.SkipPast(newest); err != nil {
		return nil, false, fmt.Errorf("move sequence numbers past %d: %w", newest, err)
	}
	if !collides {
		return w.GetCommitted(), false, nil
	}
	var safe []*lifelinev1.SeqRange
	for _, r := range w.GetCommitted() {
		if r.GetFirst() >= epochStart {
			continue
		}
		safe = append(safe, &lifelinev1.SeqRange{First: r.GetFirst(), Last: min(r.GetLast(), epochStart-1)})
	}
	return safe, true, nil
}

// reidentify gives the buffer a new identity after reconcile found its
// numbers reused elsewhere.
func (u *Uplink) reidentify(old string) error {
	id, err := u.q.Reidentify()
	if err != nil {
		return err
	}
	u.logger.Error("buffer took a new identity: another copy of it used the same batch numbers",
		"old_buffer_id", old, "buffer_id", id)
	return errReidentified
}
