package memwatch

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	aggmetrics "github.com/lifeline-telemetry/lifeline/aggregator/metrics"
	"github.com/lifeline-telemetry/lifeline/proto/obs/scrape"
)

func TestPressureTight(t *testing.T) {
	const mb = 1 << 20
	cases := []struct {
		name      string
		prev, cur Reading
		ok, tight bool
		wantShare float64
	}{
		{name: "limit drives the collector", prev: Reading{GCSeconds: 10, BusySeconds: 40},
			cur: Reading{GCSeconds: 40, BusySeconds: 100, LiveBytes: 280 * mb, LimitBytes: 400 * mb}, ok: true, tight: true, wantShare: 0.5},
		{name: "much garbage, small live heap", prev: Reading{},
			cur: Reading{GCSeconds: 50, BusySeconds: 100, LiveBytes: 100 * mb, LimitBytes: 400 * mb}, ok: true, wantShare: 0.5},
		{name: "live heap near the limit, little collecting", prev: Reading{},
			cur: Reading{GCSeconds: 10, BusySeconds: 100, LiveBytes: 350 * mb, LimitBytes: 400 * mb}, ok: true, wantShare: 0.1},
		{name: "no limit", prev: Reading{},
			cur: Reading{GCSeconds: 80, BusySeconds: 100, LiveBytes: 350 * mb}, ok: true, wantShare: 0.8},
		{name: "no CPU accounted in between", prev: Reading{GCSeconds: 5, BusySeconds: 10},
			cur: Reading{GCSeconds: 5, BusySeconds: 10, LiveBytes: 350 * mb, LimitBytes: 400 * mb}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, ok := Between(c.prev, c.cur)
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if !ok {
				return
			}
			if math.Abs(p.GCShare-c.wantShare) > 1e-9 {
				t.Errorf("share %.3f, want %.3f", p.GCShare, c.wantShare)
			}
			if p.Tight() != c.tight {
				t.Errorf("tight = %v, want %v (%+v)", p.Tight(), c.tight, p)
			}
		})
	}
}

// TestReadSeesATightLimit makes this process what a tight limit makes the
// aggregator: a live heap of pointers filling most of a small limit, and
// garbage allocated fast. The runtime's own figures must say so; with the
// same garbage under a roomy limit they must not.
func TestReadSeesATightLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	type node struct {
		next  *node
		value [2]int64
	}
	live := make([]*node, 1_000_000) // 24 MB of small objects to mark, and 8 MB of pointers to them
	for i := range live {
		live[i] = &node{}
		if i > 0 {
			live[i].next = live[i-1]
		}
	}
	runtime.GC()
	// Garbage made with some work on it, as a service makes it: the
	// collector's share then depends on how often it runs.
	var sum uint64
	churn := func() {
		for range 100_000 {
			buf := make([]byte, 1024)
			garbage = buf
			for i := range buf {
				buf[i] = byte(i)
				sum += uint64(buf[i]) * 31
			}
		}
	}
	measure := func(limit int64) Pressure {
		debug.SetMemoryLimit(limit)
		runtime.GC()
		before := Read()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		n := ms.NumGC
		churn()
		runtime.ReadMemStats(&ms)
		t.Logf("limit %d MiB: %d collections, heap sys %d MiB", limit>>20, ms.NumGC-n, ms.HeapSys>>20)
		runtime.GC() // the runtime accounts CPU at the end of each collection
		p, ok := Between(before, Read())
		if !ok {
			t.Fatalf("limit %d MiB: no CPU accounted over the churn", limit>>20)
		}
		return p
	}

	tight := measure(40 << 20)
	roomy := measure(4 << 30)
	runtime.KeepAlive(live)
	t.Logf("checksum %d", sum)
	t.Logf("tight limit: %+v; roomy limit: %+v", tight, roomy)
	if tight.LiveBytes < 28<<20 || tight.LimitBytes != 40<<20 {
		t.Errorf("tight limit: live %.0f MiB, limit %.0f MiB; want at least 28 MiB live under 40 MiB", tight.LiveBytes/(1<<20), tight.LimitBytes/(1<<20))
	}
	if !tight.Tight() {
		t.Errorf("a 40 MiB limit over ~32 MB of live pointers is not reported tight: %+v", tight)
	}
	if roomy.Tight() || roomy.GCShare >= tight.GCShare {
		t.Errorf("the same garbage under a 4 GiB limit: %+v, against %+v under 40 MiB", roomy, tight)
	}
}

func TestFromMetrics(t *testing.T) {
	m := scrape.Values{
		aggmetrics.GoGCCPUSecondsTotal: 12, aggmetrics.GoCPUSecondsTotal: 100, aggmetrics.GoIdleCPUSecondsTotal: 60,
		aggmetrics.GoHeapLiveBytes: 300 << 20, aggmetrics.GoMemoryLimitBytes: math.MaxInt64,
	}
	r, ok := FromMetrics(m)
	if !ok {
		t.Fatal("a full scrape not read")
	}
	if r.BusySeconds != 40 || r.GCSeconds != 12 || r.LimitBytes != 0 || r.LiveBytes != 300<<20 {
		t.Errorf("reading %+v; want busy 40 s, gc 12 s, no limit, 300 MiB live", r)
	}
	delete(m, aggmetrics.GoHeapLiveBytes)
	if _, ok := FromMetrics(m); ok {
		t.Error("a scrape without the live heap was read")
	}
}

// TestWatcherWarnsOncePerRepeat: windows tight one after another give one
// warning until repeat has passed; windows that are not give none.
func TestWatcherWarnsOncePerRepeat(t *testing.T) {
	const mb = 1 << 20
	// Run calls read and logs on the test's goroutine: nothing is shared.
	var gc, busy float64
	live := 300.0 * mb
	read := func() Reading {
		gc, busy = gc+5, busy+10 // half the CPU collecting every window
		return Reading{GCSeconds: gc, BusySeconds: busy, LiveBytes: live, LimitBytes: 400 * mb}
	}
	run := func(repeat time.Duration, windows int) string {
		var buf bytes.Buffer
		w := &Watcher{every: 5 * time.Millisecond, repeat: repeat, read: read,
			logger: slog.New(slog.NewTextHandler(&buf, nil))}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(windows)*5*time.Millisecond)
		defer cancel()
		w.Run(ctx)
		return buf.String()
	}
	if got := strings.Count(run(time.Hour, 20), "memory limit tight"); got != 1 {
		t.Errorf("20 tight windows within an hour: %d warnings, want 1", got)
	}
	if got := strings.Count(run(0, 20), "memory limit tight"); got < 5 {
		t.Errorf("20 tight windows, repeat 0: %d warnings, want one a window", got)
	}
	live = 100 * mb
	if out := run(0, 20); out != "" {
		t.Errorf("a live heap of a quarter of the limit warned:\n%s", out)
	}
}

// garbage keeps the churn's buffers on the heap.
var garbage []byte
