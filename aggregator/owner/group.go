package owner

import (
	"context"
	"errors"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/groupcommit"
)

// maxGroupClaims bounds the sites of one grouped claim.
const maxGroupClaims = 500

// claimTimeout bounds a grouped claim, which claims other streams' sites
// too and so does not end with the stream that runs it.
const claimTimeout = 30 * time.Second

// newClaims groups the claims of handshakes that arrive together into one
// read, one insert and one read back for all of them, through claimSites:
// a claim of its own per handshake queued those three round trips behind
// one another. A site claimSites did not win is an error for its claim
// alone.
func newClaims(claimSites func(context.Context, []string) (map[string]uint64, error)) *groupcommit.Group[string, uint64] {
	split := func(sites []string) int { return maxGroupClaims }
	return groupcommit.New(claimTimeout, split, func(ctx context.Context, sites []string) []groupcommit.Outcome[uint64] {
		won, err := claimSites(ctx, sites)
		if err == nil {
			err = errors.New("not claimed")
		}
		outs := make([]groupcommit.Outcome[uint64], len(sites))
		for i, site := range sites {
			if epoch, ok := won[site]; ok {
				outs[i].Value = epoch
			} else {
				outs[i].Err = err
			}
		}
		return outs
	})
}
