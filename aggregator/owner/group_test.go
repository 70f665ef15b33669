package owner

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Claims made while a group is being written are claimed together next,
// in one call, each answered with its own site's epoch; a site the call
// did not win is an error for its claim alone.
func TestClaimsQueuedTogetherAreClaimedTogether(t *testing.T) {
	defer goleak.VerifyNone(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var calls [][]string
	claimSites := func(_ context.Context, sites []string) (map[string]uint64, error) {
		mu.Lock()
		calls = append(calls, slices.Clone(sites))
		first := len(calls) == 1
		mu.Unlock()
		if first {
			close(entered)
			<-release
		}
		won := map[string]uint64{}
		for i, s := range sites {
			if s != "LOST" {
				won[s] = uint64(10 + i)
			}
		}
		return won, fmt.Errorf("claim site LOST: lost")
	}
	g := newClaims(claimSites)
	ctx := context.Background()
	type result struct {
		site  string
		epoch uint64
		err   error
	}
	results := make(chan result, 10)
	claim := func(site string) {
		e, err := g.Do(ctx, site)
		results <- result{site, e, err}
	}
	go claim("FIRST")
	<-entered
	later := []string{"A", "B", "C", "LOST"}
	for _, s := range later {
		go claim(s)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		n := g.Queued()
		if n == len(later) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d claims queued, want %d", n, len(later))
		}
	}
	close(release)
	got := map[string]result{}
	for range 1 + len(later) {
		r := <-results
		got[r.site] = r
	}
	if len(calls) != 2 || !slices.Equal(calls[0], []string{"FIRST"}) || len(calls[1]) != len(later) {
		t.Fatalf("claimed in calls %v; want FIRST alone, then the four queued behind it together", calls)
	}
	for _, s := range append([]string{"FIRST"}, later...) {
		r := got[s]
		want := uint64(10 + slices.Index(calls[1], s))
		switch {
		case s == "FIRST" && (r.err != nil || r.epoch != 10):
			t.Errorf("FIRST: epoch %d, %v; want 10", r.epoch, r.err)
		case s == "LOST" && r.err == nil:
			t.Errorf("LOST claimed at epoch %d; want an error", r.epoch)
		case s != "FIRST" && s != "LOST" && (r.err != nil || r.epoch != want):
			t.Errorf("%s: epoch %d, %v; want %d", s, r.epoch, r.err, want)
		}
	}
}
