package opcua

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// History backfill: after a stop or an outage, each point's missed values
// are read from the server's history (HistoryRead, raw values) for the
// window from the newest value stored before the stop to the first value
// read live after it, both excluded, and delivered flagged History. The
// gap records of the span wait until then and say what was recovered.

// Recovery values of a gap record (lifelinev1.Gap.Recovery).
const (
	RecoveryRecovered    = "recovered"     // every point of the gap read back
	RecoveryPartial      = "partial"       // some points, or part of the span, not
	RecoveryNotAvailable = "not_available" // the server keeps no history of them
)

// GapAgentStopped is the reason of the gap for the span the agent was not
// running.
const GapAgentStopped = "agent_stopped"

// historyLimits bound the work of a backfill.
type historyLimits struct {
	// valuesPerNode is NumValuesPerNode: the values per point per
	// response; the rest follow through continuation points.
	valuesPerNode uint32
	// nodesPerRequest is how many points one HistoryRead asks for.
	nodesPerRequest int
	// groupSlack is how far apart the windows of points read in one
	// request may start: each request asks for the span covering all of
	// them and drops what is outside each point's own window.
	groupSlack time.Duration
	// pause is the wait between requests, so that the backfill never
	// keeps the server or the sink busy ahead of live data.
	pause time.Duration
	// liveWait is how long a backfill waits for the first live value of
	// each point, which ends its window.
	liveWait time.Duration
	// saveEvery is how often the state file is written while reading.
	saveEvery time.Duration
}

func defaultHistoryLimits() historyLimits {
	return historyLimits{
		valuesPerNode:   1000,
		nodesPerRequest: 100,
		groupSlack:      time.Minute,
		pause:           20 * time.Millisecond,
		liveWait:        15 * time.Second,
		saveEvery:       5 * time.Second,
	}
}

// startHistory loads the state file and takes the agent_stopped gap,
// then saves the state every saveEvery until the returned stop is
// called, and once more then.
func (r *Reader) startHistory(ctx context.Context) (stop func()) {
	h, err := loadHistoryState(r.historyDir, r.src.Name)
	if err != nil {
		r.logger.Warn("history backfill state unreadable; backfill starts from what is read live", "err", err)
	}
	r.hist = h
	if g := r.stoppedGap; g != nil {
		h.addPending(pendingGap{Reason: g.GetReason(), FromNs: g.GetFromNs(), ToNs: g.GetToNs(), Points: pointIDs(r.src.Points)})
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.history.saveEvery)
		defer t.Stop()
		for {
			if err := h.save(false); err != nil {
				r.logger.Warn("history backfill state not saved", "err", err)
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		if err := h.save(true); err != nil {
			r.logger.Warn("history backfill state not saved", "err", err)
		}
	}
}

// recordLeftPending records the gap records an earlier run left waiting
// for a backfill, now that history_backfill is off, with what was read
// back for them.
func (r *Reader) recordLeftPending() {
	h, err := loadHistoryState(r.historyDir, r.src.Name)
	if err != nil || len(h.f.Pending) == 0 {
		return
	}
	for _, g := range h.f.Pending {
		r.recordGap(g, "", g.Recovered, nil)
	}
	h.resolved(len(h.f.Pending))
	if err := h.save(true); err != nil {
		r.logger.Warn("history backfill state not saved", "err", err)
	}
}

// startBackfill starts the backfill of a session that has just begun
// reading, in its own goroutine; the returned stop cancels it and waits.
// The newest values stored per point are taken now, before the session
// delivers anything.
func (r *Reader) startBackfill(ctx context.Context, c *opcua.Client, info serverInfo, nodes []*ua.NodeID) (stop func()) {
	if r.hist == nil {
		return func() {}
	}
	ids := pointIDs(r.src.Points)
	plan := backfillPlan{src: r.src, ids: ids, nodes: nodes, last: r.hist.last(ids), owed: r.hist.owed(ids), pending: r.hist.pending(),
		marks: &liveMarks{first: make([]int64, len(ids))}}
	r.live.Store(plan.marks)
	if len(plan.pending) > 0 || anyOwed(plan.owed) {
		r.hist.hold()
	}
	bctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.backfill(bctx, c, info, plan)
	}()
	return func() {
		cancel()
		<-done
		r.live.Store(nil)
		r.hist.drop()
	}
}

// backfillPlan is what a session's backfill starts from.
type backfillPlan struct {
	// src is the source as the session began: the backfill's goroutine
	// reads it, never r.src, which Update may replace meanwhile.
	src     config.Source
	ids     []string
	nodes   []*ua.NodeID
	last    []int64    // newest source time stored per point
	owed    [][]window // windows a backfill cut short still owes
	pending []pendingGap
	marks   *liveMarks
}

// pointOutcome is what a backfill achieved for one point.
type pointOutcome int

const (
	outcomeNone          pointOutcome = iota // not read back (no live value, no start, cut short)
	outcomeDone                              // every window read to its end
	outcomeFailed                            // the server refused or failed a read
	outcomeCapped                            // read, but the window was longer than history_max_window
	outcomeNotHistorized                     // the server keeps no history of it
)

// backfill reads back what the session's points missed and records the
// pending gaps. Cut short (the session ends), it leaves the gaps pending
// and the rest of its windows owed, for the next session.
func (r *Reader) backfill(ctx context.Context, c *opcua.Client, info serverInfo, p backfillPlan) {
	if len(p.pending) == 0 && !anyOwed(p.owed) {
		return // read without a break since the last backfill
	}
	out := make([]pointOutcome, len(p.ids))
	if r.noHistory.Load() {
		r.settle(p, out, true)
		return
	}
	historized, serverSays, err := r.historizing(ctx, c, info, p.nodes)
	if err != nil {
		if ctx.Err() == nil {
			r.logger.Warn("cannot tell which points the server keeps history of; backfill waits for the next session", "err", err)
		}
		return
	}
	want := make([]bool, len(p.ids))
	anyHistorized := false
	for i, h := range historized {
		if h {
			want[i], anyHistorized = true, true
		} else {
			out[i] = outcomeNotHistorized
		}
	}
	if !anyHistorized {
		if !serverSays {
			r.noHistory.Store(true)
			r.logger.Info("the OPC UA server keeps no history of the source's points; gaps are recorded without backfill from now on")
		}
		r.settle(p, out, !serverSays)
		return
	}
	first, err := r.waitLive(ctx, p.marks, want)
	if err != nil {
		return
	}
	r.backfills.Add(1)
	started := time.Now()
	run := &backfillRun{out: out, left: make([]int, len(p.ids)), capped: make([]bool, len(p.ids)), empty: make([]int, len(p.ids))}
	tasks := r.windows(p, want, first, run)
	err = r.readHistory(ctx, c, p, tasks, run)
	if ctx.Err() != nil {
		return
	}
	if errors.Is(err, errNoHistory) {
		r.noHistory.Store(true)
		r.logger.Info("the OPC UA server does not support HistoryRead; gaps are recorded without backfill from now on", "err", err)
		r.settle(p, out, true)
		return
	}
	if err != nil {
		r.logger.Warn("history backfill failed; what was read is kept", "err", err)
	}
	r.logger.Info("history backfill done", "samples", run.read, "points", len(tasks), "took", time.Since(started).Round(time.Millisecond))
	r.settle(p, out, false)
}

func anyOwed(owed [][]window) bool {
	for _, ws := range owed {
		if len(ws) > 0 {
			return true
		}
	}
	return false
}

// historizing reads the server's AccessHistoryDataCapability and the
// Historizing attribute of every resolved node. serverSays is true when
// the capability is set: then a point without Historizing is not taken
// as a sign that the server keeps no history at all.
func (r *Reader) historizing(ctx context.Context, c *opcua.Client, info serverInfo, nodes []*ua.NodeID) (historized []bool, serverSays bool, err error) {
	r.historyProbes.Add(1)
	historized = make([]bool, len(nodes))
	ids := []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.HistoryServerCapabilities_AccessHistoryDataCapability), AttributeID: ua.AttributeIDValue}}
	var idx []int
	for i, n := range nodes {
		if n != nil {
			ids = append(ids, &ua.ReadValueID{NodeID: n, AttributeID: ua.AttributeIDHistorizing})
			idx = append(idx, i)
		}
	}
	chunk := info.readChunk()
	for start := 0; start < len(ids); start += chunk {
		end := min(start+chunk, len(ids))
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		res, err := c.Read(cctx, &ua.ReadRequest{NodesToRead: ids[start:end], TimestampsToReturn: ua.TimestampsToReturnNeither})
		cancel()
		if err != nil {
			return nil, false, fmt.Errorf("read Historizing: %w", err)
		}
		if len(res.Results) != end-start {
			return nil, false, fmt.Errorf("read Historizing: got %d results for %d nodes", len(res.Results), end-start)
		}
		for j, dv := range res.Results {
			yes := dv != nil && dv.Status == ua.StatusOK && dv.Value != nil && dv.Value.Value() == true
			if k := start + j; k == 0 {
				serverSays = yes
			} else {
				historized[idx[k-1]] = yes
			}
		}
	}
	return historized, serverSays, nil
}

// waitLive waits until every wanted point has delivered its first live
// value, or liveWait has passed, and returns their source times (0 for a
// point without one: its window has no end, so it is not read back).
func (r *Reader) waitLive(ctx context.Context, m *liveMarks, want []bool) ([]int64, error) {
	deadline := time.Now().Add(r.history.liveWait)
	for {
		first := m.get()
		all := true
		for i, w := range want {
			all = all && (!w || first[i] != 0)
		}
		if all || time.Now().After(deadline) {
			return first, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// task is one window of one point to read back.
type task struct {
	point int
	w     window
}

// backfillRun follows the points of one backfill.
type backfillRun struct {
	out    []pointOutcome
	left   []int  // windows still to read, per point
	capped []bool // a window was cut to history_max_window
	empty  []int  // pages in a row without values but with more to come
	read   int    // values read back
}

// maxEmptyPages is how many answers in a row a point may get with no
// values and a continuation point (allowed: a slow server's partial
// answer) before the read is given up as failed.
const maxEmptyPages = 100

// finished notes that one window of point i was read to its end.
func (b *backfillRun) finished(i int) {
	if b.left[i]--; b.left[i] == 0 && b.out[i] == outcomeNone {
		b.out[i] = outcomeDone
		if b.capped[i] {
			b.out[i] = outcomeCapped
		}
	}
}

// windows returns what each wanted point must read back: the windows a
// cut-short backfill still owes, and the one from its newest stored value
// (or, for a point never stored, the start of the oldest pending gap) to
// its first live value. Each is bounded by history_max_window and saved as
// owed before it is read.
func (r *Reader) windows(p backfillPlan, want []bool, first []int64, run *backfillRun) []task {
	oldest := int64(0)
	for _, g := range p.pending {
		if oldest == 0 || g.FromNs < oldest {
			oldest = g.FromNs
		}
	}
	maxWindow := int64(p.src.HistoryMaxWindow.D())
	var tasks []task
	for i := range p.ids {
		if !want[i] {
			continue
		}
		ws := p.owed[i]
		from := p.last[i]
		if from == 0 && oldest > 0 {
			from = oldest - 1
		}
		if first[i] != 0 && from != 0 && from < first[i] {
			ws = append(ws, window{From: from, To: first[i]})
		}
		if first[i] == 0 && len(ws) == 0 {
			continue // outcomeNone: no end to read to
		}
		for _, w := range ws {
			if maxWindow > 0 && w.To-w.From > maxWindow {
				// An owed window cut here is cut in the state too, so
				// that it is not owed twice.
				r.hist.progress(p.ids[i], w, w.To-maxWindow, false)
				w.From = w.To - maxWindow
				run.capped[i] = true
			}
			if w.From+1 < w.To {
				r.hist.owe(p.ids[i], w)
				tasks = append(tasks, task{point: i, w: w})
				run.left[i]++
			}
		}
		if run.left[i] == 0 {
			run.left[i] = 1
			run.finished(i) // nothing missed
		}
	}
	r.hist.release()
	if err := r.hist.save(false); err != nil {
		r.logger.Warn("history backfill windows not saved", "err", err)
	}
	return tasks
}

// settle records the pending gaps of the plan with what was recovered:
// the counts of values read back for them, by this backfill and any cut
// short before it. notAvailable says the server keeps no history.
func (r *Reader) settle(p backfillPlan, out []pointOutcome, notAvailable bool) {
	counts := make([]uint64, len(p.pending))
	for k, g := range r.hist.pending() {
		if k < len(counts) {
			counts[k] = g.Recovered
		}
	}
	index := make(map[string]int, len(p.ids))
	for i, id := range p.ids {
		index[id] = i
	}
	for k, g := range p.pending {
		points := g.Points
		if len(points) == 0 {
			points = p.ids
		}
		var unrecovered []string
		none := true
		for _, id := range points {
			i, ok := index[id]
			switch {
			case ok && out[i] == outcomeDone:
				none = false
			case ok && out[i] != outcomeNotHistorized:
				none = false
				unrecovered = append(unrecovered, id)
			default:
				unrecovered = append(unrecovered, id)
			}
		}
		recovery := RecoveryPartial
		switch {
		case notAvailable || none:
			recovery, unrecovered = RecoveryNotAvailable, nil
		case len(unrecovered) == 0:
			recovery = RecoveryRecovered
		}
		r.recordGap(g, recovery, counts[k], unrecovered)
		r.logger.Info("gap recorded after history backfill", "reason", g.Reason, "from", time.Unix(0, g.FromNs).UTC(),
			"to", time.Unix(0, g.ToNs).UTC(), "recovery", recovery, "recovered", counts[k], "unrecovered_points", len(unrecovered))
	}
	r.hist.resolved(len(p.pending))
	r.hist.release()
	if err := r.hist.save(false); err != nil {
		r.logger.Warn("history backfill state not saved", "err", err)
	}
}

// gapOf is the index of the pending gap a value read back at ts belongs
// to: the first that ends at or after it, else the last.
func gapOf(gaps []pendingGap, ts int64) int {
	for k, g := range gaps {
		if ts <= g.ToNs {
			return k
		}
	}
	return len(gaps) - 1
}

// historySample turns one value read from history into a sample flagged
// History, or nil when it lies outside w (the boundary values are already
// stored, or will be read live).
func historySample(pointID string, dv *ua.DataValue, w window, received time.Time) *lifelinev1.Sample {
	s, _ := newSample(pointID, dv, received)
	if s.SourceTimeNs <= w.From || s.SourceTimeNs >= w.To {
		return nil
	}
	s.History = true
	return s
}
