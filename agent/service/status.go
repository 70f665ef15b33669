package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/lifeline-telemetry/lifeline/agent/batcher"
	"github.com/lifeline-telemetry/lifeline/agent/buffer"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Backlog describes what waits in the buffer and how fast it leaves.
type Backlog struct {
	Batches   int64
	Bytes     int64
	Samples   int64         // estimated from the average encoded sample size
	OldestAge time.Duration // source age of the oldest buffered sample
	Rate      float64       // samples/s acked, over the last half minute
	ETA       time.Duration // Samples / Rate; 0 when unknown or empty
}

func (a *Agent) backlog(p *pipeline) Backlog {
	st := p.queue.Stats()
	b := Backlog{Batches: st.Entries, Bytes: st.Bytes}
	if per := p.batcher.BytesPerSample(); per > 0 {
		b.Samples = int64(float64(st.Bytes) / per)
	}
	if ts := oldestSourceTime(p.queue); ts > 0 {
		b.OldestAge = time.Since(time.Unix(0, ts))
	}
	b.Rate = p.drain.rate(time.Now(), p.uplink.Stats().AckedSamples)
	if b.Rate > 0 && b.Samples > 0 {
		b.ETA = time.Duration(float64(b.Samples) / b.Rate * float64(time.Second))
	}
	return b
}

// oldestSourceTime reads the oldest buffered batch's first source time.
func oldestSourceTime(q *buffer.Queue) int64 {
	entries, err := q.Read(0, 1)
	if err != nil || len(entries) == 0 {
		return 0
	}
	var b lifelinev1.Batch
	if err := proto.Unmarshal(entries[0].Data, &b); err != nil || len(b.Samples) == 0 {
		return 0
	}
	oldest := b.Samples[0].GetSourceTimeNs()
	for _, s := range b.Samples[1:] {
		oldest = min(oldest, s.GetSourceTimeNs())
	}
	return oldest
}

// status is the heartbeat the uplink sends to the aggregator.
func (a *Agent) status(p *pipeline) *lifelinev1.Status {
	b := a.backlog(p)
	st := &lifelinev1.Status{
		TimeNs:         time.Now().UnixNano(),
		BacklogBatches: uint64(b.Batches),
		BacklogBytes:   uint64(b.Bytes),
		DrainRate:      b.Rate,
		SamplesRead:    p.batcher.Received(),
		SamplesAcked:   p.uplink.Stats().AckedSamples,
	}
	if b.OldestAge > 0 {
		st.OldestNs = time.Now().Add(-b.OldestAge).UnixNano()
	}
	for _, ls := range p.sources.snapshot() {
		r := ls.reader
		rs := r.Stats()
		src := &lifelinev1.SourceStatus{
			Name: ls.cfg.Name, Endpoint: ls.cfg.Endpoint, Connected: rs.Connected,
		}
		if !rs.LastData.IsZero() {
			src.LastDataNs = rs.LastData.UnixNano()
		}
		if rs.SkewKnown {
			src.ClockSkewNs = rs.ClockSkew.Nanoseconds()
		}
		st.Sources = append(st.Sources, src)
		if d := ls.cfg.FrozenAfter.D(); d > 0 {
			for _, ps := range r.Frozen(d, time.Now()) {
				if ps.Status>>30 == 0 { // good but frozen; bad quality is its own alarm
					st.FrozenPoints = append(st.FrozenPoints, ps.PointID)
				}
			}
		}
	}
	st.CertNotAfterNs = a.certNotAfter
	return st
}

// drainBeforeStop gives the aggregator ShutdownDrain to ack what the
// buffer holds, so a planned stop leaves as little as possible behind.
func (a *Agent) drainBeforeStop(p *pipeline) {
	limit := a.cfg.Aggregator.ShutdownDrain.D()
	if limit <= 0 || !p.uplink.Stats().Connected {
		return
	}
	deadline := time.Now().Add(limit)
	for p.queue.Stats().Entries > 0 && time.Now().Before(deadline) && p.uplink.Stats().Connected {
		time.Sleep(20 * time.Millisecond)
	}
}

// syncEvery flushes the buffer to disk on a timer (buffer.sync: interval).
func syncEvery(ctx context.Context, q *buffer.Queue, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := q.Sync(); err != nil {
				logger.Error("sync buffer", "err", err)
			}
		}
	}
}

// rateMeter turns a growing counter into a rate over a sliding window.
type rateMeter struct {
	mu      sync.Mutex
	points  []ratePoint
	changed time.Time // when total last grew
	last    uint64
}

type ratePoint struct {
	at    time.Time
	total uint64
}

const (
	rateWindow = 30 * time.Second
	// rateStall is how long the counter may stay flat before the rate is
	// reported as 0: a link that stopped acking has no drain rate, and an
	// ETA computed from the acks of half a minute ago would be fiction.
	rateStall = 5 * time.Second
)

func newRateMeter() *rateMeter { return &rateMeter{} }

// rate records total at now (at most once a second) and returns the rate
// over the window, or 0 once total has not grown for rateStall.
func (m *rateMeter) rate(now time.Time, total uint64) float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.changed.IsZero() || total != m.last {
		m.changed, m.last = now, total
	}
	if n := len(m.points); n == 0 || now.Sub(m.points[n-1].at) >= time.Second {
		m.points = append(m.points, ratePoint{now, total})
	}
	for len(m.points) > 2 && now.Sub(m.points[1].at) > rateWindow {
		m.points = m.points[1:]
	}
	if now.Sub(m.changed) >= rateStall {
		return 0
	}
	first := m.points[0]
	dt := now.Sub(first.at).Seconds()
	if dt < 1 || total < first.total {
		return 0
	}
	return float64(total-first.total) / dt
}

// seedEntries bounds how many of the buffer's newest batches are read at
// start to recognise values servers re-send after a restart.
const seedEntries = 256

// seedMarks shows the batcher the newest buffered values of an earlier run.
// Values already acked and deleted are recognised by the aggregator instead.
func seedMarks(q *buffer.Queue, b *batcher.Batcher, logger *slog.Logger) {
	entries, err := q.ReadNewest(seedEntries)
	if err != nil {
		logger.Warn("read newest buffered batches", "err", err)
		return
	}
	data := make([][]byte, len(entries))
	for i, e := range entries {
		data[i] = e.Data
	}
	b.Seed(data)
}
