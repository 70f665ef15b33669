package owner

import (
	"context"
	"errors"
	"sync"
	"time"
)

// maxGroupClaims bounds the sites of one grouped claim.
const maxGroupClaims = 500

// claimTimeout bounds a grouped claim, which claims other streams' sites
// too and so does not end with the stream that runs it.
const claimTimeout = 30 * time.Second

// claimGroup turns the claims of handshakes that arrive together (1,000
// agents connecting after a restart or a network cut) into one read, one
// insert and one read back for all of them: a claim of its own per
// handshake queued those three round trips behind one another. A claim
// waits while another group is being written; whoever next takes the
// turn claims everything queued by then.
type claimGroup struct {
	turn chan struct{} // holds a token while a group is claimed

	mu     sync.Mutex
	queued []*claimReq
}

type claimReq struct {
	site string
	done chan claimResult // buffered: written once
}

type claimResult struct {
	epoch uint64
	err   error
}

func newClaimGroup() claimGroup { return claimGroup{turn: make(chan struct{}, 1)} }

// claim claims site, alone or with others queued beside it, through
// claimSites.
func (g *claimGroup) claim(ctx context.Context, site string, claimSites func(context.Context, []string) (map[string]uint64, error)) (uint64, error) {
	req := &claimReq{site: site, done: make(chan claimResult, 1)}
	g.mu.Lock()
	g.queued = append(g.queued, req)
	g.mu.Unlock()
	for {
		select {
		case res := <-req.done:
			return res.epoch, res.err
		case <-ctx.Done():
			return 0, ctx.Err()
		case g.turn <- struct{}{}:
			g.claimQueued(ctx, claimSites)
			<-g.turn
			// req was queued before the turn was taken: it is settled now.
		}
	}
}

// claimQueued claims what is queued, maxGroupClaims sites at a time, and
// settles each request with its site's outcome.
func (g *claimGroup) claimQueued(ctx context.Context, claimSites func(context.Context, []string) (map[string]uint64, error)) {
	g.mu.Lock()
	queued := g.queued
	g.queued = nil
	g.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	for len(queued) > 0 {
		n := min(len(queued), maxGroupClaims)
		sites := make([]string, n)
		for i, r := range queued[:n] {
			sites[i] = r.site
		}
		won, err := claimSites(ctx, sites)
		for _, r := range queued[:n] {
			if epoch, ok := won[r.site]; ok {
				r.done <- claimResult{epoch: epoch}
				continue
			}
			if err == nil {
				err = errors.New("not claimed")
			}
			r.done <- claimResult{err: err}
		}
		queued = queued[n:]
	}
}
