package opcua

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// window is a span of source time a point still owes from the server's
// history, both ends excluded (Unix ns): the newest value stored before
// the agent stopped reading, and the first value read live after.
type window struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// pendingGap is a gap record waiting for the backfill of its span, so
// that it can say what was recovered.
type pendingGap struct {
	Reason string   `json:"reason"`
	FromNs int64    `json:"from_ns"`
	ToNs   int64    `json:"to_ns"`
	Points []string `json:"points,omitempty"` // empty: every point of the source
	// Recovered counts the values read back for the gap so far, across
	// backfills cut short.
	Recovered uint64 `json:"recovered,omitempty"`
}

// historyFile is the persisted form of historyState.
type historyFile struct {
	Last    map[string]int64    `json:"last"`
	Owed    map[string][]window `json:"owed,omitempty"`
	Pending []pendingGap        `json:"pending,omitempty"`
}

// historyState is what history backfill needs to survive a restart: the
// newest source time delivered per point, the windows still owed by a
// backfill that was cut short, and the gap records waiting for theirs. It
// lives in the buffer's directory, so a new or wiped buffer starts
// without it, as it starts without the samples it describes.
type historyState struct {
	path string

	mu    sync.Mutex
	f     historyFile
	dirty bool
	// settled is f's Last and Owed as they were at the previous periodic
	// save: what it writes (see save).
	settled historyFile
	// held keeps the times of live values while a backfill has not yet
	// saved its windows (see hold), nil otherwise.
	held map[string]int64

	saving sync.Mutex // one write at a time, outside mu
}

// historyFileName is the state file of the source named name: hashed, as
// a source name may hold any character.
func historyFileName(name string) string {
	sum := sha256.Sum256([]byte(name))
	return "lifeline-history-" + hex.EncodeToString(sum[:8]) + ".json"
}

// loadHistoryState reads the state file in dir, or starts an empty state
// when there is none. A damaged file is reported and replaced: backfill
// then starts from what is read live, and the gaps say so.
func loadHistoryState(dir, source string) (*historyState, error) {
	h := &historyState{path: filepath.Join(dir, historyFileName(source))}
	data, err := os.ReadFile(h.path)
	if err == nil {
		err = json.Unmarshal(data, &h.f)
	}
	if h.f.Last == nil {
		h.f.Last = map[string]int64{}
	}
	if h.f.Owed == nil {
		h.f.Owed = map[string][]window{}
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		h.f = historyFile{Last: map[string]int64{}, Owed: map[string][]window{}}
		h.settled = h.f
		return h, fmt.Errorf("read history state %s: %w", h.path, err)
	}
	h.settled = historyFile{Last: maps.Clone(h.f.Last), Owed: cloneOwed(h.f.Owed)}
	return h, nil
}

func cloneOwed(o map[string][]window) map[string][]window {
	c := make(map[string][]window, len(o))
	for k, ws := range o {
		c[k] = slices.Clone(ws)
	}
	return c
}

// note records the source times of live samples.
func (h *historyState) note(batch []*lifelinev1.Sample) {
	h.mu.Lock()
	defer h.mu.Unlock()
	last := h.f.Last
	if h.held != nil {
		last = h.held
	}
	for _, s := range batch {
		if ts := s.GetSourceTimeNs(); ts > last[s.GetPointId()] {
			last[s.GetPointId()] = ts
			h.dirty = true
		}
	}
}

// hold keeps the newest times where they are until release: a backfill
// has taken them as the start of its windows, and until it has saved the
// windows as owed, a session lost (or an agent stopped) would otherwise
// leave a mark past the values it has yet to read back. drop, at the end
// of a session whose backfill never got that far, forgets the held times:
// the next backfill reads that session's values again (and the aggregator
// drops them).
func (h *historyState) hold() {
	h.mu.Lock()
	h.held = map[string]int64{}
	h.mu.Unlock()
}

func (h *historyState) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, ts := range h.held {
		if ts > h.f.Last[id] {
			h.f.Last[id] = ts
			h.dirty = true
		}
	}
	h.held = nil
}

func (h *historyState) drop() {
	h.mu.Lock()
	h.held = nil
	h.mu.Unlock()
}

// last returns the newest source time delivered of each point (0 if none).
func (h *historyState) last(ids []string) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = h.f.Last[id]
	}
	return out
}

// owe adds windows a point must read back; empty windows are left out.
func (h *historyState) owe(point string, ws ...window) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range ws {
		if w.From < w.To && !slices.Contains(h.f.Owed[point], w) {
			h.f.Owed[point] = append(h.f.Owed[point], w)
			h.dirty = true
		}
	}
}

// progress moves an owed window's start to from (everything up to it is
// delivered), or drops the window when done is set.
func (h *historyState) progress(point string, w window, from int64, done bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ws := h.f.Owed[point]
	i := slices.IndexFunc(ws, func(o window) bool { return o.To == w.To })
	if i < 0 {
		return
	}
	if done || from+1 >= ws[i].To {
		ws = slices.Delete(ws, i, i+1)
	} else if from > ws[i].From {
		ws[i].From = from
	}
	if len(ws) == 0 {
		delete(h.f.Owed, point)
	} else {
		h.f.Owed[point] = ws
	}
	h.dirty = true
}

// owed returns the windows each point still owes.
func (h *historyState) owed(ids []string) [][]window {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([][]window, len(ids))
	for i, id := range ids {
		out[i] = slices.Clone(h.f.Owed[id])
	}
	return out
}

// addPending keeps a gap record until the backfill of its span is done.
func (h *historyState) addPending(g pendingGap) {
	h.mu.Lock()
	h.f.Pending = append(h.f.Pending, g)
	h.dirty = true
	h.mu.Unlock()
}

// pending returns the gap records waiting for backfill.
func (h *historyState) pending() []pendingGap {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.f.Pending)
}

// readBack counts values read back (their source times) against the
// pending gap records they fall in.
func (h *historyState) readBack(tss []int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.f.Pending) == 0 {
		return
	}
	for _, ts := range tss {
		h.f.Pending[gapOf(h.f.Pending, ts)].Recovered++
	}
	h.dirty = true
}

// resolved drops the first n pending gap records (the ones a backfill
// took with pending, which come first: records are only appended).
func (h *historyState) resolved(n int) {
	h.mu.Lock()
	h.f.Pending = slices.Delete(h.f.Pending, 0, min(n, len(h.f.Pending)))
	h.dirty = true
	h.mu.Unlock()
}

// save writes the state when it changed since the last save, atomically
// (temporary file, fsync, rename): a crash leaves the old state or the
// new, never a torn one.
//
// While running (final false) it writes the newest times and the owed
// windows as they were at the previous save, one period back: values the
// reader delivered are durable in the buffer only after the batcher's
// next flush, and a mark ahead of the buffer would hide, after a kill,
// values that were never stored. Behind it only makes values be read
// again, which the aggregator drops when ClickHouse has them. The final
// save, after the reader stopped, writes everything.
func (h *historyState) save(final bool) error {
	h.saving.Lock()
	defer h.saving.Unlock()
	h.mu.Lock()
	if !h.dirty {
		h.mu.Unlock()
		return nil
	}
	out := historyFile{Last: h.settled.Last, Owed: h.settled.Owed, Pending: h.f.Pending}
	if final {
		out = h.f
	}
	data, err := json.Marshal(out)
	if !final {
		h.settled = historyFile{Last: maps.Clone(h.f.Last), Owed: cloneOwed(h.f.Owed)}
	}
	// Still dirty while what was written lags what is known.
	h.dirty = !final && !sameMarks(out, h.settled)
	h.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode history state: %w", err)
	}
	if err := atomicfile.WriteFile(h.path, data, 0o600); err != nil {
		h.mu.Lock()
		h.dirty = true
		h.mu.Unlock()
		return fmt.Errorf("save history state: %w", err)
	}
	return nil
}

// sameMarks reports whether a and b hold the same newest times and owed
// windows.
func sameMarks(a, b historyFile) bool {
	return maps.Equal(a.Last, b.Last) && maps.EqualFunc(a.Owed, b.Owed, func(x, y []window) bool { return slices.Equal(x, y) })
}
