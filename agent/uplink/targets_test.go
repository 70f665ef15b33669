package uplink

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func eps(dials ...string) []endpoint {
	out := make([]endpoint, len(dials))
	for i, d := range dials {
		out[i] = endpoint{Dial: d, Address: d}
	}
	return out
}

// Sites spread evenly over the aggregators, and losing one moves only the
// sites that preferred it.
func TestRendezvousSpreadsAndMovesOnlyTheLostShare(t *testing.T) {
	three := eps("10.0.0.1:7400", "10.0.0.2:7400", "10.0.0.3:7400")
	two := eps("10.0.0.1:7400", "10.0.0.3:7400")
	count := map[string]int{}
	const sites = 3000
	for i := range sites {
		site := fmt.Sprintf("SITE%04d", i)
		first := rendezvous(site, three)[0]
		count[first.Dial]++
		after := rendezvous(site, two)[0]
		if first.Dial != "10.0.0.2:7400" && after.Dial != first.Dial {
			t.Fatalf("%s moved from %s to %s though its aggregator stayed", site, first.Dial, after.Dial)
		}
		if again := rendezvous(site, []endpoint{three[2], three[0], three[1]})[0]; again != first {
			t.Fatalf("%s: choice depends on the order of addresses (%s vs %s)", site, again.Dial, first.Dial)
		}
	}
	for d, n := range count {
		if n < sites/3*8/10 || n > sites/3*12/10 {
			t.Errorf("%s preferred by %d of %d sites; want about a third", d, n, sites)
		}
	}
	if len(count) != 3 {
		t.Errorf("preferred endpoints %v; want all three used", count)
	}
}

type fakeResolver map[string][]string

func (f fakeResolver) LookupHost(_ context.Context, host string) ([]string, error) {
	if ips, ok := f[host]; ok {
		return ips, nil
	}
	return nil, errors.New("no such host")
}

// A name resolving to several IPs makes each a candidate, dialled by IP and
// verified by the name; IP literals are not looked up; a name that does not
// resolve is skipped as long as another address remains.
func TestResolveEveryIPIsACandidate(t *testing.T) {
	r := fakeResolver{"agg.example.net": {"192.0.2.10", "192.0.2.11"}}
	got, err := resolve(context.Background(), r, []string{"agg.example.net:7400", "198.51.100.7:7401", "gone.example.net:7400", "192.0.2.10:7400"})
	if err != nil {
		t.Fatal(err)
	}
	want := []endpoint{
		{Dial: "192.0.2.10:7400", Address: "agg.example.net:7400"},
		{Dial: "192.0.2.11:7400", Address: "agg.example.net:7400"},
		{Dial: "198.51.100.7:7401", Address: "198.51.100.7:7401"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("candidates %v, want %v", got, want)
	}
	if got[0].authority() != "agg.example.net:7400" {
		t.Errorf("authority %q; TLS must verify the configured name", got[0].authority())
	}
	if _, err := resolve(context.Background(), r, []string{"gone.example.net:7400"}); err == nil {
		t.Error("no candidate at all must be an error")
	}
	if _, err := resolve(context.Background(), r, []string{"no-port"}); err == nil {
		t.Error("an address without a port must be an error")
	}
}

// After a failure the next-ranked endpoint is used at once; the failed one
// again after the cooldown; when all failed, the one that failed first.
func TestFailuresPick(t *testing.T) {
	f := &failures{cooldown: 10 * time.Second}
	ranked := eps("a:1", "b:1", "c:1")
	now := time.Unix(1000, 0)
	if e, fresh := f.pick(ranked, now); e.Dial != "a:1" || !fresh {
		t.Fatalf("pick %v %v; want the preferred", e, fresh)
	}
	f.failed(ranked[0], now)
	if e, fresh := f.pick(ranked, now); e.Dial != "b:1" || !fresh {
		t.Fatalf("pick %v %v; want the next", e, fresh)
	}
	f.failed(ranked[1], now.Add(time.Second))
	f.failed(ranked[2], now.Add(2*time.Second))
	if e, fresh := f.pick(ranked, now.Add(3*time.Second)); e.Dial != "a:1" || fresh {
		t.Fatalf("pick %v %v; want the one failed longest ago, not fresh", e, fresh)
	}
	if e, fresh := f.pick(ranked, now.Add(10*time.Second)); e.Dial != "a:1" || !fresh {
		t.Fatalf("pick %v %v; want the preferred again after its cooldown", e, fresh)
	}
	f.ok(ranked[0])
	if e, _ := f.pick(ranked, now.Add(4*time.Second)); e.Dial != "a:1" {
		t.Fatalf("pick %v; want the preferred once it answered", e)
	}
}
