package groupcommit

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Requests queued while a call runs go together into the next calls, a
// split at a time, each answered with its own outcome; a caller whose
// context ends while it waits gets its context's error.
func TestQueuedRequestsRunTogetherASplitAtATime(t *testing.T) {
	defer goleak.VerifyNone(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var calls [][]int
	run := func(_ context.Context, reqs []int) []Outcome[string] {
		mu.Lock()
		calls = append(calls, slices.Clone(reqs))
		first := len(calls) == 1
		mu.Unlock()
		if first {
			close(entered)
			<-release
		}
		outs := make([]Outcome[string], len(reqs))
		for i, r := range reqs {
			if r < 0 {
				outs[i].Err = fmt.Errorf("refused %d", r)
				continue
			}
			outs[i].Value = fmt.Sprint("done ", r)
		}
		return outs
	}
	g := New(time.Minute, func([]int) int { return 2 }, run)
	ctx := context.Background()
	type result struct {
		req int
		val string
		err error
	}
	results := make(chan result, 10)
	do := func(r int) {
		v, err := g.Do(ctx, r)
		results <- result{r, v, err}
	}
	go do(0)
	<-entered
	later := []int{1, 2, -3}
	for _, r := range later {
		go do(r)
	}
	for g.Queued() < len(later) {
		time.Sleep(time.Millisecond)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := g.Do(gone, 9); err != context.Canceled {
		t.Errorf("a caller whose context ended: %v, want %v", err, context.Canceled)
	}
	close(release)
	for range 1 + len(later) {
		r := <-results
		switch {
		case r.req < 0 && r.err == nil:
			t.Errorf("%d: %q, want its error", r.req, r.val)
		case r.req >= 0 && (r.err != nil || r.val != fmt.Sprint("done ", r.req)):
			t.Errorf("%d: %q, %v", r.req, r.val, r.err)
		}
	}
	if len(calls) != 3 || len(calls[0]) != 1 || len(calls[1]) != 2 || len(calls[2]) != 2 {
		t.Errorf("calls %v; want the first alone, then the four queued behind it two by two", calls)
	}
}
