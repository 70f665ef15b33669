package statuspage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// JournalSize is how many recent errors and gaps a Journal keeps of each.
const JournalSize = 50

// Journal keeps the agent's recent warnings and errors, taken from its
// log, and its recent gaps. The log is where every failure is already
// reported once, so wrapping the logger's handler catches them all
// without touching the places that fail.
type Journal struct {
	mu     sync.Mutex
	events ring[Event]
	gaps   ring[Gap]
}

// NewJournal returns an empty journal.
func NewJournal() *Journal {
	return &Journal{events: newRing[Event](JournalSize), gaps: newRing[Gap](JournalSize)}
}

// Events returns the recent warnings and errors, newest first.
func (j *Journal) Events() []Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.events.newestFirst()
}

// Gaps returns the recent gaps, newest first.
func (j *Journal) Gaps() []Gap {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.gaps.newestFirst()
}

// RecordGap keeps a gap.
func (j *Journal) RecordGap(g Gap) {
	j.mu.Lock()
	j.gaps.add(g)
	j.mu.Unlock()
}

// record keeps e; the same event again in a row (a source that stays
// unreachable warns on every retry) only counts up and moves the time, so
// fifty retries do not push every other error out.
func (j *Journal) record(e Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if last := j.events.newest(); last != nil && last.Level == e.Level && last.Message == e.Message &&
		last.Source == e.Source && last.Component == e.Component && last.Error == e.Error {
		last.Time, last.Detail = e.Time, e.Detail
		last.Count++
		return
	}
	e.Count = 1
	j.events.add(e)
}

// Handler returns a handler that passes records to next and keeps those
// at WARN and above, whatever level next logs at.
func (j *Journal) Handler(next slog.Handler) slog.Handler {
	return &recorder{j: j, next: next}
}

// recorder is the slog.Handler of Journal.Handler.
type recorder struct {
	j     *Journal
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs, outside any group
	group string      // prefix of attributes added inside WithGroup
}

func (h *recorder) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.next.Enabled(ctx, l)
}

func (h *recorder) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.j.record(h.event(r))
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h *recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *recorder) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	if name != "" {
		c.group = strings.TrimPrefix(h.group+"."+name, ".")
	}
	return &c
}

// event flattens a record: source, component and err get fields of their
// own, the rest goes to Detail.
func (h *recorder) event(r slog.Record) Event {
	e := Event{Time: r.Time, Level: r.Level.String(), Message: r.Message}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	var detail []string
	take := func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		switch a.Key {
		case "source":
			e.Source = v
		case "component":
			e.Component = v
		case "err", "error":
			e.Error = v
		default:
			if len(detail) < 12 {
				detail = append(detail, fmt.Sprintf("%s=%s", a.Key, v))
			}
		}
		return true
	}
	for _, a := range h.attrs {
		take(a)
	}
	r.Attrs(func(a slog.Attr) bool {
		if h.group != "" {
			a.Key = h.group + "." + a.Key
		}
		return take(a)
	})
	e.Detail = strings.Join(detail, " ")
	return e
}

// ring keeps the last n values added.
type ring[T any] struct {
	buf  []T
	next int
	full bool
}

func newRing[T any](n int) ring[T] { return ring[T]{buf: make([]T, n)} }

func (r *ring[T]) add(v T) {
	r.buf[r.next] = v
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// newest returns the last value added, nil when empty.
func (r *ring[T]) newest() *T {
	if r.next == 0 && !r.full {
		return nil
	}
	return &r.buf[(r.next-1+len(r.buf))%len(r.buf)]
}

func (r *ring[T]) newestFirst() []T {
	n := r.next
	if r.full {
		n = len(r.buf)
	}
	out := make([]T, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.buf[(r.next-i+len(r.buf))%len(r.buf)])
	}
	return out
}
