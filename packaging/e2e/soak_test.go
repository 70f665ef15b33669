package e2e

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/lifeline-telemetry/lifeline/agent/buffer/disktest"

	agentconfig "github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	"github.com/lifeline-telemetry/lifeline/packaging/launch"
)

// make soak runs TestSoak for minutes; make test runs it short.
var (
	soakDuration = flag.Duration("soak.duration", 40*time.Second, "how long TestSoak injects faults")
	soakSeed     = flag.Uint64("soak.seed", 0, "seed of the fault schedule (0: from the clock)")
	soakSites    = flag.Int("soak.sites", 2, "plants, each with its simulator, link and agent")
)

// soakSite is one plant: its simulator, the link to the shared aggregator
// and its agent, with what the agent reported in each of its lives.
type soakSite struct {
	id                   string
	dir, buffer          string
	disk                 string // the buffer's own small filesystem, when the test may mount one
	simAddr, metricsAddr string
	agentConfig          string
	sim, agent           *launch.Process
	proxy                *proxy

	// Per life of the agent, its counters as last scraped: the whole life
	// when it ended by SIGTERM, up to a few milliseconds before a kill -9.
	lives  []map[string]float64
	killed []bool // per life: ended by kill -9
	// Samples the agent held unsent when its buffer was wiped: lost with
	// the disk, as a replaced PC loses them.
	wiped float64
	kills int
	wipes int // kills whose buffer was wiped: the new buffer knows nothing of the stop
}

// soak is several plants → one aggregator → one ClickHouse of its own, all
// real processes on loopback, with links the test controls.
type soak struct {
	t       *testing.T
	dir     string
	ch      *chtest.Server
	aggAddr string
	aggConf string
	agg     *launch.Process
	sites   []*soakSite
	rng     *rand.Rand
	log     []string
	start   time.Time
}

const soakPoints, soakRate = 300, 2.0

func newSoak(t *testing.T, seed uint64) *soak {
	t.Helper()
	binaries(t)
	s := &soak{t: t, dir: t.TempDir(), rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), start: time.Now()}
	srv, err := chtest.StartServer(filepath.Join(s.dir, "clickhouse"))
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("clickhouse-server: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Kill() })
	s.ch = srv
	addrs, err := launch.FreeAddrs(2 + 2*(*soakSites))
	if err != nil {
		t.Fatal(err)
	}
	s.aggAddr = addrs[0]
	s.aggConf = filepath.Join(s.dir, "aggregator.yaml")
	writeFile(t, s.aggConf, fmt.Sprintf(`server:
  listen: %s
  tls: {insecure: true}
clickhouse: {addr: %s, database: lifeline}
metrics: {listen: %s}
`, s.aggAddr, srv.Addr(), addrs[1]))
	s.agg = startProc(t, s.dir, "lifeline-aggregator", "run", "--config", s.aggConf)
	for i := range *soakSites {
		site := &soakSite{
			id:          fmt.Sprintf("SOAK%02d", i+1),
			simAddr:     addrs[2+2*i],
			metricsAddr: addrs[3+2*i],
		}
		site.dir = filepath.Join(s.dir, site.id)
		site.buffer = filepath.Join(site.dir, "buffer")
		if err := os.MkdirAll(site.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if disktest.CanMount() {
			site.disk = disktest.Tmpfs(t, 64<<20)
			site.buffer = filepath.Join(site.disk, "buffer")
		} else if os.Getenv("CI") != "" {
			t.Fatal("the soak's full-disk fault mounts a tmpfs, which needs root, and CI is set")
		}
		site.proxy = startProxy(t, s.aggAddr)
		s.startSim(site)
		site.agentConfig = s.writeAgentConfig(site)
		s.waitSim(site)
		s.startAgent(site)
		s.sites = append(s.sites, site)
	}
	return s
}

func (s *soak) startSim(site *soakSite) {
	site.sim = startProc(s.t, site.dir, "lifeline-plantsim", "run", "--listen", site.simAddr,
		"--points", strconv.Itoa(soakPoints), "--rate", strconv.FormatFloat(soakRate, 'f', -1, 64),
		"--excursions-per-hour", "120", "--tick", "200ms", "--stats-interval", "0")
}

func (s *soak) startAgent(site *soakSite) {
	site.agent = startProc(s.t, site.dir, "lifeline-agent", "run", "--config", site.agentConfig)
	site.lives = append(site.lives, map[string]float64{})
	site.killed = append(site.killed, false)
}

func (s *soak) writeAgentConfig(site *soakSite) string {
	out, err := runBinary(s.t, "lifeline-plantsim", "config", "--endpoint", "opc.tcp://"+site.simAddr,
		"--aggregator", site.proxy.addr(), "--buffer", site.buffer, "--site", site.id,
		"--points", strconv.Itoa(soakPoints), "--rate", strconv.FormatFloat(soakRate, 'f', -1, 64))
	if err != nil {
		s.t.Fatalf("plantsim config: %v", err)
	}
	cfg, err := agentconfig.Parse(out)
	if err != nil {
		s.t.Fatal(err)
	}
	cfg.Metrics.Listen = site.metricsAddr
	cfg.StatusPage.Listen = "" // several agents share this host
	if site.disk != "" {
		cfg.Buffer.MinFreeBytes = 16 << 20
		cfg.Buffer.MemoryBytes = 1 << 20
	}
	cfg.Aggregator.Keepalive = agentconfig.Duration(5 * time.Second)
	cfg.Aggregator.KeepaliveTimeout = agentconfig.Duration(3 * time.Second)
	cfg.Aggregator.ReconnectMin = agentconfig.Duration(200 * time.Millisecond)
	cfg.Aggregator.ReconnectMax = agentconfig.Duration(2 * time.Second)
	cfg.Aggregator.StatusInterval = agentconfig.Duration(2 * time.Second)
	data, err := cfg.Marshal()
	if err != nil {
		s.t.Fatal(err)
	}
	path := filepath.Join(site.dir, "agent.yaml")
	writeFile(s.t, path, string(data))
	return path
}

// scrape records the agent's counters in its current life; it keeps the
// last good scrape when the agent does not answer.
func (s *soak) scrape(site *soakSite) map[string]float64 {
	m := scrape(site.metricsAddr)
	if len(m) > 0 {
		site.lives[len(site.lives)-1] = m
	}
	return site.lives[len(site.lives)-1]
}

func (s *soak) note(format string, args ...any) {
	line := fmt.Sprintf("%6.1fs  ", time.Since(s.start).Seconds()) + fmt.Sprintf(format, args...)
	s.log = append(s.log, line)
	s.t.Log(line)
}

func (s *soak) pause(lo, hi time.Duration) time.Duration {
	d := lo + time.Duration(s.rng.Int64N(int64(hi-lo)+1))
	time.Sleep(d)
	return d
}

func (s *soak) site() *soakSite { return s.sites[s.rng.IntN(len(s.sites))] }

// faults are what a plant and a data centre do to the system.
func (s *soak) faults() []struct {
	name string
	do   func()
} {
	return []struct {
		name string
		do   func()
	}{
		{"agent kill -9", func() {
			site := s.site()
			s.scrape(site)
			site.agent.Kill()
			site.kills++
			site.killed[len(site.killed)-1] = true
			d := s.pause(0, 2*time.Second)
			s.startAgent(site)
			s.note("agent %s killed, restarted after %s", site.id, d.Round(time.Millisecond))
		}},
		{"aggregator kill -9", func() {
			s.agg.Kill()
			d := s.pause(500*time.Millisecond, 3*time.Second)
			s.agg = startProc(s.t, s.dir, "lifeline-aggregator", "run", "--config", s.aggConf)
			s.note("aggregator killed, restarted after %s", d.Round(time.Millisecond))
		}},
		{"clickhouse stop", func() {
			if err := s.ch.Stop(); err != nil {
				s.t.Fatal(err)
			}
			d := s.pause(3*time.Second, 10*time.Second)
			if err := s.ch.Start(); err != nil {
				s.t.Fatal(err)
			}
			s.note("ClickHouse stopped for %s", d.Round(time.Millisecond))
		}},
		{"link cut", func() {
			site := s.site()
			site.proxy.setMode(refuse)
			site.proxy.cut()
			d := s.pause(500*time.Millisecond, 4*time.Second)
			site.proxy.setMode(forward)
			s.note("link of %s cut for %s", site.id, d.Round(time.Millisecond))
		}},
		{"link black hole", func() {
			site := s.site()
			site.proxy.setMode(blackhole)
			d := s.pause(3*time.Second, 10*time.Second)
			site.proxy.cut()
			site.proxy.setMode(forward)
			s.note("link of %s black-holed for %s", site.id, d.Round(time.Millisecond))
		}},
		{"buffer wiped", func() {
			site := s.site()
			m := s.scrape(site)
			site.agent.Kill()
			site.kills++
			site.killed[len(site.killed)-1] = true
			held := m[service.MetricSamplesBufferedTotal] - m[service.MetricSamplesAckedTotal] -
				m[service.MetricSamplesDuplicateTotal] - m[service.MetricSamplesDroppedTotal]
			site.wiped += max(0, held)
			site.wipes++
			if err := os.RemoveAll(site.buffer); err != nil {
				s.t.Fatal(err)
			}
			s.startAgent(site)
			s.note("buffer of %s wiped (a replaced PC) with about %.0f samples unsent", site.id, max(0, held))
		}},
		{"disk full", func() {
			site := s.site()
			if site.disk == "" {
				s.note("disk of %s not filled: not root, no tmpfs of its own", site.id)
				return
			}
			filler := disktest.Fill(s.t, site.disk, 4<<20)
			d := s.pause(2*time.Second, 8*time.Second)
			if err := os.Remove(filler); err != nil {
				s.t.Fatal(err)
			}
			s.note("buffer disk of %s full for %s", site.id, d.Round(time.Millisecond))
		}},
		{"OPC UA server restart", func() {
			site := s.site()
			site.sim.Stop(5 * time.Second)
			d := s.pause(time.Second, 6*time.Second)
			s.startSim(site)
			s.waitSim(site)
			s.note("OPC UA server of %s down for %s", site.id, d.Round(time.Millisecond))
		}},
	}
}

// TestSoak drives several plants through random faults, then checks each
// site: every sample its agent read is in samples once or inside a gap,
// the rollups agree with the raw rows, and no alarm is raised twice.
func TestSoak(t *testing.T) {
	seed := *soakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("soak: seed %d, %s, %d sites (go test ./packaging/e2e -run TestSoak -soak.seed=%d to replay the schedule)",
		seed, *soakDuration, *soakSites, seed)
	s := newSoak(t, seed)
	for _, site := range s.sites {
		s.waitSite(site, "first acks", 90*time.Second, func(m map[string]float64) bool {
			return m[service.MetricSamplesAckedTotal] > 0
		})
	}
	faults := s.faults()
	end := time.Now().Add(*soakDuration)
	for time.Now().Before(end) {
		s.pause(time.Second, 4*time.Second)
		f := faults[s.rng.IntN(len(faults))]
		f.do()
	}
	for _, site := range s.sites {
		site.proxy.setMode(forward)
	}
	s.note("faults over; stopping the plants and draining")
	for _, site := range s.sites {
		s.awaitStoppedGaps(site)
		site.sim.Stop(10 * time.Second)
	}
	for _, site := range s.sites {
		s.drain(site)
	}
	t.Logf("fault schedule (seed %d):\n%s", seed, strings.Join(s.log, "\n"))
	st := s.openStore()
	for _, site := range s.sites {
		s.check(st, site)
	}
}

// waitSite polls the site's agent until cond holds.
func (s *soak) waitSite(site *soakSite, what string, limit time.Duration, cond func(map[string]float64) bool) map[string]float64 {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		m := scrape(site.metricsAddr)
		if len(m) > 0 {
			site.lives[len(site.lives)-1] = m
			if cond(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: timed out waiting for %s; last metrics: read=%v acked=%v batches=%v connected=%v\nagent log:\n%s\naggregator log:\n%s",
				site.id, what, m[service.MetricSamplesReadTotal], m[service.MetricSamplesAckedTotal],
				m[service.MetricBufferBatches], m[service.MetricUplinkConnected], site.agent.Tail(4000), s.agg.Tail(4000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// awaitStoppedGaps gives an agent restarted by the last faults the time
// to record its agent_stopped gap before its plant stops: a source with
// history records it once it has read the missed span back, which a
// stopped server would leave pending until it returns.
func (s *soak) awaitStoppedGaps(site *soakSite) {
	conn := chtest.Conn(s.t, s.ch.Addr(), "lifeline")
	want := uint64(site.kills - site.wipes)
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var n uint64
		err := conn.QueryRow(context.Background(), "SELECT count() FROM gaps FINAL WHERE site_id = ? AND reason = 'agent_stopped'",
			site.id).Scan(&n)
		if err == nil && n >= want {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// drain waits until the agent has read nothing new for a while and holds
// nothing unsent.
func (s *soak) drain(site *soakSite) {
	last := -1.0
	s.waitSite(site, "the agent to drain", 3*time.Minute, func(m map[string]float64) bool {
		read := m[service.MetricSamplesReadTotal]
		settled := read == last
		last = read
		// Values a server re-sent after a resubscribe that the buffer already
		// held are read but never buffered again; they are counted among the
		// duplicates.
		unbuffered := read - m[service.MetricSamplesBufferedTotal]
		return settled && m[service.MetricBufferBatches] == 0 && m[service.MetricUplinkInFlightBatches] == 0 &&
			unbuffered >= 0 && unbuffered <= m[service.MetricSamplesDuplicateTotal]
	})
}

func (s *soak) openStore() *store.Store {
	cfg := store.DefaultConfig()
	cfg.Addr, cfg.Database = s.ch.Addr(), "lifeline"
	st := store.New(cfg, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Open(ctx); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { st.Close() })
	return st
}

// check proves the site's record complete and exact.
func (s *soak) check(st *store.Store, site *soakSite) {
	t := s.t
	ctx := context.Background()
	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	var rows, distinct, gapSamples uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(point_id, ts_ns) FROM samples WHERE site_id = ?", site.id).
		Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT sum(samples) FROM gaps FINAL WHERE site_id = ?", site.id).Scan(&gapSamples); err != nil {
		t.Fatal(err)
	}
	// A killed life owes what it had synced to its buffer when last
	// scraped; samples still in the batcher's memory die with the process
	// (read, not yet on disk), which is the promise for kill -9.
	var read, owed, inMemory, dup float64
	for i, life := range site.lives {
		r := life[service.MetricSamplesReadTotal]
		read += r
		dup += life[service.MetricSamplesDuplicateTotal]
		if site.killed[i] {
			b := life[service.MetricSamplesBufferedTotal] + life[service.MetricSamplesDroppedTotal]
			owed += b
			inMemory += max(0, r-b)
		} else {
			owed += r
		}
	}
	t.Logf("%s: %d lives (%d killed), read %.0f (of which %.0f in memory at a kill), ClickHouse rows %d distinct %d, gap samples %d, re-sent duplicates %.0f, wiped unsent %.0f",
		site.id, len(site.lives), site.kills, read, inMemory, rows, distinct, gapSamples, dup, site.wiped)
	if rows != distinct {
		t.Errorf("%s: %d rows stored twice", site.id, rows-distinct)
	}
	// Every sample on disk is stored, recorded lost, or recognised as
	// re-sent; a wiped buffer's unsent samples are gone with the disk.
	accounted := float64(distinct+gapSamples) + dup
	if accounted+site.wiped < owed {
		t.Errorf("%s: rows %d + gap samples %d + re-sent %.0f + wiped %.0f = %.0f < %.0f samples on disk: %.0f lost without a record",
			site.id, distinct, gapSamples, dup, site.wiped, accounted+site.wiped, owed, owed-accounted-site.wiped)
	}
	if site.kills == 0 && accounted != read {
		t.Errorf("%s: %.0f accounted for, %.0f read", site.id, accounted, read)
	}
	// Every kill is explained: the restarted agent records the time it was
	// not reading as an agent_stopped gap.
	var stopped uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM gaps FINAL WHERE site_id = ? AND reason = 'agent_stopped'", site.id).
		Scan(&stopped); err != nil {
		t.Fatal(err)
	}
	if restarts := uint64(site.kills) - uint64(site.wipes); stopped < restarts {
		t.Errorf("%s: %d agent_stopped gaps for %d kills of an agent that kept its buffer", site.id, stopped, restarts)
	}
	drift, err := st.RollupDrift(ctx, s.start.Add(-2*time.Hour), time.Now().Add(time.Hour), site.id)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range drift {
		if i == 5 {
			t.Errorf("%s: … %d rollup buckets disagree in all", site.id, len(drift))
			break
		}
		t.Errorf("%s: %s bucket %s of %s: rollup %d, raw %d", site.id, d.Table, d.Bucket.Format(time.TimeOnly), d.PointID, d.Rollup, d.Raw)
	}
	s.checkAlarms(ctx, st, site)
}

// checkAlarms: no alarm raised twice, which shows as two events of one
// point and condition whose spans overlap.
func (s *soak) checkAlarms(ctx context.Context, st *store.Store, site *soakSite) {
	conn := chtest.Conn(s.t, st.Config().Addr, st.Config().Database)
	// A history alarm stays open until its back-filled data stops arriving
	// for 30 s (docs/schema.md, "Late and back-filled data"); its span is
	// known only then.
	deadline := time.Now().Add(time.Minute)
	for {
		var open uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM alarm_events FINAL WHERE site_id = ? AND backfill = 1 AND state = 'active'",
			site.id).Scan(&open); err != nil {
			s.t.Fatal(err)
		}
		if open == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	rows, err := conn.Query(ctx, `SELECT point_id, condition, raised_ns, cleared_ns, backfill, end_reason
FROM alarm_events FINAL WHERE site_id = ? ORDER BY point_id, condition, raised_ns`, site.id)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rows.Close()
	type span struct {
		point, cond     string
		raised, cleared int64
		backfill        uint8
		reason          string
	}
	var all []span
	for rows.Next() {
		var e span
		if err := rows.Scan(&e.point, &e.cond, &e.raised, &e.cleared, &e.backfill, &e.reason); err != nil {
			s.t.Fatal(err)
		}
		all = append(all, e)
	}
	if err := rows.Err(); err != nil {
		s.t.Fatal(err)
	}
	for i := 1; i < len(all); i++ {
		prev, e := all[i-1], all[i]
		if prev.point != e.point || prev.cond != e.cond {
			continue
		}
		if prev.cleared == 0 || e.raised < prev.cleared {
			s.t.Errorf("%s: alarm %s %s raised at %d (backfill %d, cleared %d: %s) while the one raised at %d (backfill %d) was still active (cleared %d: %s)",
				site.id, e.point, e.cond, e.raised, e.backfill, e.cleared, e.reason, prev.raised, prev.backfill, prev.cleared, prev.reason)
			s.logSamples(ctx, conn, site.id, e.point, prev.raised-int64(3*time.Second), max(e.cleared, prev.cleared)+int64(time.Second))
		}
	}
	s.t.Logf("%s: %d alarm events, none twice", site.id, len(all))
}

// logSamples shows the samples of a point from..to as stored, in the
// order they were committed, to explain an alarm.
func (s *soak) logSamples(ctx context.Context, conn driver.Conn, site, point string, from, to int64) {
	rows, err := conn.Query(ctx, `SELECT ts_ns, value, status, seq, buffer_id, backfill, recv_ns FROM samples FINAL
WHERE site_id = ? AND point_id = ? AND ts_ns BETWEEN ? AND ? ORDER BY buffer_id, seq, ts_ns`, site, point, from, to)
	if err != nil {
		s.t.Log(err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var ts, recv int64
		var v float64
		var status uint32
		var seq uint64
		var buf string
		var bf uint8
		if err := rows.Scan(&ts, &v, &status, &seq, &buf, &bf, &recv); err != nil {
			s.t.Log(err)
			return
		}
		s.t.Logf("  %s %s ts %d value %g status %#x buffer %s seq %d backfill %d received %d", site, point, ts, v, status, buf, seq, bf, recv)
	}
}

// runBinary runs one of the built binaries to completion and returns its
// standard output.
func runBinary(t *testing.T, name string, args ...string) ([]byte, error) {
	return exec.Command(filepath.Join(binaries(t), name), args...).Output()
}

// scrape reads an agent's metrics; an empty map when it does not answer.
func scrape(addr string) map[string]float64 {
	m, err := launch.Scrape(addr)
	if err != nil {
		return map[string]float64{}
	}
	return m
}

func (s *soak) waitSim(site *soakSite) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := site.sim.WaitListening(ctx, site.simAddr); err != nil {
		s.t.Fatal(err)
	}
}
