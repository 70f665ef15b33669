package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	agentservice "github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

func newFailoverRig(t *testing.T, ctx context.Context) *failoverRig {
	t.Helper()
	chAddr := chtest.Addr(t)
	db := chtest.Database(t, chAddr)
	return newFleet(t, ctx, fleetStore{read: chAddr, database: db, sitePrefix: "FO",
		clickhouse: func(int) string { return fmt.Sprintf("{addr: %s, database: %s}", chAddr, db) }})
}

// on returns the aggregator (index into addrs) agent i is connected to, -1
// for none, read from its metrics.
func (r *failoverRig) on(i int) int {
	resp, err := http.Get("http://" + r.agentMetrics[i] + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, agentservice.MetricUplinkAggregator+"{") || !strings.HasSuffix(line, " 1") {
			continue
		}
		for j, a := range r.addrs {
			if strings.Contains(line, `"`+a+`"`) {
				return j
			}
		}
	}
	return -1
}

// waitOn waits until every agent is on the aggregator want says.
func (r *failoverRig) waitOn(what string, limit time.Duration, want func(agent int) int) {
	r.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ok := true
		var now []int
		for i := range r.agents {
			at := r.on(i)
			now = append(now, at)
			ok = ok && (want(i) == anyAggregator && at >= 0 || at == want(i))
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s: agents on %v\nagent 0 log:\n%s", what, now, r.agents[0].Tail(3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// set gives the gas detector a value now and returns its source time.
func (r *failoverRig) set(v float64) time.Time {
	r.t.Helper()
	at := time.Now().Truncate(time.Millisecond) // OPC UA keeps 100 ns ticks
	if err := r.sim.Set(gasPoint, v, at); err != nil {
		r.t.Fatal(err)
	}
	return at
}

// gasAlarms reads the gas detector's alarms of site (FINAL) as
// (raised_ns, cleared_ns) pairs.
func (r *failoverRig) gasAlarms(ctx context.Context, site string) [][2]int64 {
	rows, err := r.conn.Query(ctx, `SELECT raised_ns, cleared_ns FROM alarm_events FINAL
WHERE site_id = ? AND point_id = ? ORDER BY raised_ns`, site, gasPoint)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var p [2]int64
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			r.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func (r *failoverRig) epoch(ctx context.Context, site string) (epoch uint64, owner string) {
	if err := r.conn.QueryRow(ctx, "SELECT epoch, owner FROM site_owners WHERE site_id = ? ORDER BY epoch DESC, owner LIMIT 1", site).
		Scan(&epoch, &owner); err != nil {
		r.t.Fatal(err)
	}
	return epoch, owner
}

// TestFailoverBetweenAggregators: kill -9 the aggregator most sites are
// on while a gas alarm is raised, restart it and watch its sites come
// back, then SIGSTOP it (a black hole) around the next alarm and SIGCONT
// it once the other took over. Every alarm is in ClickHouse once, the
// resumed aggregator writes nothing for the sites it lost, and every
// sample the agents read is stored exactly once.
func TestFailoverBetweenAggregators(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := newFailoverRig(t, ctx)
	r.learnPreferences()
	// The first batches carry the catalog; let the evaluators read limits.
	time.Sleep(3 * time.Second)
	raise1, clear1 := r.killAndRestart(ctx)
	raise2, clear2 := r.pauseAndResume(ctx)
	want := [][2]int64{{raise1.UnixNano(), clear1.UnixNano()}, {raise2.UnixNano(), clear2.UnixNano()}}
	r.assertAlarms(ctx, want)
	r.assertSamplesOnce(ctx)
}

// learnPreferences waits until every agent is connected and records where:
// with both aggregators up, each site is on its preferred one. The victim
// is the aggregator most sites prefer.
func (r *failoverRig) learnPreferences() {
	r.t.Helper()
	r.waitOn("every agent connected", 60*time.Second, func(int) int { return anyAggregator })
	onSecond := 0
	for i := range r.agents {
		r.preferred[i] = r.on(i)
		if r.preferred[i] == 1 {
			onSecond++
		}
	}
	r.victim = 0
	if onSecond >= 2 {
		r.victim = 1
	}
	r.other = 1 - r.victim
	r.t.Logf("sites prefer %v; victim aggregator %d", r.preferred, r.victim)
}

// killAndRestart kills the victim with kill -9 just after an alarm was
// raised, clears the alarm once the agents moved, and restarts the victim
// until its sites are back. It returns the alarm's source times.
func (r *failoverRig) killAndRestart(ctx context.Context) (raised, cleared time.Time) {
	r.t.Helper()
	raised = r.set(30)
	time.Sleep(500 * time.Millisecond)
	killed := time.Now()
	r.aggs[r.victim].Kill()
	r.waitOn("failover after kill -9", 20*time.Second, func(int) int { return r.other })
	r.t.Logf("kill -9: every agent on the other aggregator after %s", time.Since(killed).Round(100*time.Millisecond))
	time.Sleep(time.Second)
	cleared = r.set(5)

	r.startAggregator(ctx, r.victim)
	restarted := time.Now()
	r.waitOn("sites back on their preferred aggregator", 30*time.Second, func(i int) int { return r.preferred[i] })
	r.t.Logf("restart: sites back on their preferred aggregator after %s", time.Since(restarted).Round(100*time.Millisecond))
	return raised, cleared
}

// pauseAndResume pauses the victim (SIGSTOP) just after an alarm was
// raised, clears the alarm on the other aggregator, resumes the victim
// (SIGCONT) and checks that it wrote nothing under the epochs it lost.
func (r *failoverRig) pauseAndResume(ctx context.Context) (raised, cleared time.Time) {
	r.t.Helper()
	var before [3]uint64
	for i, s := range r.sites {
		before[i], _ = r.epoch(ctx, s)
	}
	time.Sleep(time.Second)
	raised = r.set(30)
	time.Sleep(300 * time.Millisecond)
	stopped := time.Now()
	if err := syscall.Kill(r.aggs[r.victim].Pid(), syscall.SIGSTOP); err != nil {
		r.t.Fatal(err)
	}
	r.waitOn("failover from a paused aggregator", 30*time.Second, func(int) int { return r.other })
	r.t.Logf("SIGSTOP: every agent on the other aggregator after %s", time.Since(stopped).Round(100*time.Millisecond))
	time.Sleep(time.Second)
	cleared = r.set(5)
	time.Sleep(time.Second)
	if err := syscall.Kill(r.aggs[r.victim].Pid(), syscall.SIGCONT); err != nil {
		r.t.Fatal(err)
	}
	// The resumed aggregator's first tick flushes its events and, its last
	// checkpoint being older than five seconds, checkpoints; its sites come
	// back to it after three probes.
	r.waitOn("sites back after SIGCONT", 30*time.Second, func(i int) int { return r.preferred[i] })
	time.Sleep(2 * time.Second)
	for i, s := range r.sites {
		if r.preferred[i] == r.victim {
			r.assertNothingWrittenAfter(ctx, s, before[i], stopped)
		}
	}
	return raised, cleared
}

// assertNothingWrittenAfter checks that no alarm or checkpoint row of
// site under an epoch up to epoch was written after stopped (+ a margin
// for rows in flight at the SIGSTOP).
func (r *failoverRig) assertNothingWrittenAfter(ctx context.Context, site string, epoch uint64, stopped time.Time) {
	r.t.Helper()
	var events, states uint64
	if err := r.conn.QueryRow(ctx, `SELECT count() FROM alarm_events WHERE site_id = ? AND epoch <= ? AND evaluated_at >= toDateTime(?)`,
		site, epoch, stopped.Unix()+2).Scan(&events); err != nil {
		r.t.Fatal(err)
	}
	if err := r.conn.QueryRow(ctx, `SELECT count() FROM alarm_state WHERE site_id = ? AND epoch <= ? AND updated_ns > ?`,
		site, epoch, uint64(stopped.Add(time.Second).UnixNano())).Scan(&states); err != nil {
		r.t.Fatal(err)
	}
	if events != 0 || states != 0 {
		r.t.Errorf("site %s: the paused aggregator wrote %d alarm rows and %d checkpoint rows under epoch <= %d after losing the site",
			site, events, states, epoch)
	}
}

// assertAlarms checks each site's gas alarms (FINAL): each raised and
// cleared once, at the source times scripted.
func (r *failoverRig) assertAlarms(ctx context.Context, want [][2]int64) {
	r.t.Helper()
	for _, s := range r.sites {
		var got [][2]int64
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
			if got = r.gasAlarms(ctx, s); slices.Equal(got, want) {
				break
			}
		}
		if !slices.Equal(got, want) {
			r.t.Errorf("site %s gas alarms %v, want %v", s, got, want)
		}
	}
}

// drained waits until agent i has delivered all it read (the plant
// stopped) and returns its metrics.
func (r *failoverRig) drained(i int) map[string]float64 {
	r.t.Helper()
	var last float64 = -1
	for end := time.Now().Add(60 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		m, _ := launch.Scrape(r.agentMetrics[i])
		read := m[agentservice.MetricSamplesReadTotal]
		if read == last && read > 0 && m[agentservice.MetricBufferBatches] == 0 && m[agentservice.MetricUplinkInFlightBatches] == 0 &&
			m[agentservice.MetricSamplesBufferedTotal] == read {
			return m
		}
		last = read
		if time.Now().After(end) {
			r.t.Fatalf("agent %d did not drain: %v", i, m)
		}
	}
}

// assertSamplesOnce stops the plant, waits until every agent delivered
// what it read, and counts each site's rows.
func (r *failoverRig) assertSamplesOnce(ctx context.Context) {
	r.t.Helper()
	_ = r.sim.Shutdown(ctx)
	for i, s := range r.sites {
		m := r.drained(i)
		var rows, distinct uint64
		if err := r.conn.QueryRow(ctx, "SELECT count(), uniqExact(point_id, ts_ns) FROM samples WHERE site_id = ?", s).Scan(&rows, &distinct); err != nil {
			r.t.Fatal(err)
		}
		read, dup := uint64(m[agentservice.MetricSamplesReadTotal]), uint64(m[agentservice.MetricSamplesDuplicateTotal])
		r.t.Logf("site %s: read %d, rows %d, distinct %d, re-sent duplicates %d, failovers %v",
			s, read, rows, distinct, dup, m[agentservice.MetricUplinkFailoversTotal])
		if rows != distinct {
			r.t.Errorf("site %s: %d duplicate rows", s, rows-distinct)
		}
		if rows+dup != read {
			r.t.Errorf("site %s: rows %d + re-sent duplicates %d != %d samples read", s, rows, dup, read)
		}
	}
}
