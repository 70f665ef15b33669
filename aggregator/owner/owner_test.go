package owner_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/owner"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// A claim moves a site; the loser finds out at Verify and lets go; a
// restarted aggregator restores only the sites still its own.
func TestClaimVerifyRestore(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	quiet := slog.New(slog.DiscardHandler)
	a, b := owner.New(st, "agg-a", quiet), owner.New(st, "agg-b", quiet)
	for _, site := range []string{"S1", "S2"} {
		if _, err := a.Claim(ctx, site); err != nil {
			t.Fatal(err)
		}
	}
	eb, err := b.Claim(ctx, "S2")
	if err != nil {
		t.Fatal(err)
	}
	owned, err := a.Verify(ctx, []string{"S1", "S2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := owned["S2"]; ok || owned["S1"] != 1 {
		t.Fatalf("a still owns %v; want only S1 at epoch 1", owned)
	}
	if _, held := a.Epoch("S2"); held {
		t.Error("a still holds S2 after Verify")
	}
	if got, err := b.Verify(ctx, []string{"S2"}); err != nil || got["S2"] != eb {
		t.Fatalf("b owns %v (%v); want S2 at epoch %d", got, err, eb)
	}
	restarted := owner.New(st, "agg-a", quiet)
	if err := restarted.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if held := restarted.Held(); len(held) != 1 || held["S1"] != 1 {
		t.Fatalf("restored %v; want S1 at epoch 1", held)
	}
}
