// Package groupcommit turns requests that arrive together into few calls:
// a request waits while a group runs, and whoever takes the next turn runs
// everything queued by then.
package groupcommit

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Outcome is what a run answers one request.
type Outcome[Res any] struct {
	Value Res
	Err   error
}

// Group runs queued requests of type Req through one call per split.
// Grouping matters where each call is a round trip or a ClickHouse insert
// of its own (1,000 agents connecting after a restart or a network cut):
// one call per request queued the calls behind one another.
type Group[Req, Res any] struct {
	timeout time.Duration
	split   func(queued []Req) int
	run     func(ctx context.Context, reqs []Req) []Outcome[Res]
	turn    chan struct{} // holds a token while a group runs

	mu     sync.Mutex
	queued []*waiter[Req, Res]
}

type waiter[Req, Res any] struct {
	req  Req
	done chan Outcome[Res] // buffered: written once
}

// New returns a group that runs the first split(queued) requests of the
// queue (at least one) through run, which answers each in order, until
// the queue is empty. Each call has timeout: it serves other callers too,
// so it does not end with the caller whose turn it is.
func New[Req, Res any](timeout time.Duration, split func(queued []Req) int, run func(ctx context.Context, reqs []Req) []Outcome[Res]) *Group[Req, Res] {
	return &Group[Req, Res]{timeout: timeout, split: split, run: run, turn: make(chan struct{}, 1)}
}

// Do runs req, alone or with others queued beside it, and returns its
// outcome.
func (g *Group[Req, Res]) Do(ctx context.Context, req Req) (Res, error) {
	w := &waiter[Req, Res]{req: req, done: make(chan Outcome[Res], 1)}
	g.mu.Lock()
	g.queued = append(g.queued, w)
	g.mu.Unlock()
	for {
		select {
		case out := <-w.done:
			return out.Value, out.Err
		case <-ctx.Done():
			var zero Res
			return zero, ctx.Err()
		case g.turn <- struct{}{}:
			g.runQueued(ctx)
			<-g.turn
			// w was queued before the turn was taken: it is answered now.
		}
	}
}

// Queued returns how many requests wait for a turn.
func (g *Group[Req, Res]) Queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queued)
}

// runQueued runs what is queued, a split at a time, and answers each
// request as its split ends.
func (g *Group[Req, Res]) runQueued(ctx context.Context) {
	g.mu.Lock()
	queued := g.queued
	g.queued = nil
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	defer cancel()
	reqs := make([]Req, len(queued))
	for i, w := range queued {
		reqs[i] = w.req
	}
	for len(queued) > 0 {
		n := min(max(g.split(reqs), 1), len(reqs))
		outs := g.run(ctx, reqs[:n])
		for i, w := range queued[:n] {
			if i < len(outs) {
				w.done <- outs[i]
			} else {
				w.done <- Outcome[Res]{Err: errors.New("no outcome for this request")}
			}
		}
		queued, reqs = queued[n:], reqs[n:]
	}
}
