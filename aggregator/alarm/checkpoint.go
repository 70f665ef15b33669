package alarm

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// progressEvery is how much source time a quiet point (nothing active or
// pending) may advance before its state is checkpointed again. After a
// restart such a point may look up to this much older, which only matters
// to staleness.
const progressEvery = time.Minute

// maxSeqRanges bounds the remembered evaluated batches per site.
const maxSeqRanges = 64

// siteState is the per-site part of the checkpoint.
type siteState struct {
	Done      []seqRange `json:"done,omitempty"` // evaluated batches
	LastBatch int64      `json:"last,omitempty"` // last batch or heartbeat, aggregator clock, ns
	CommLoss  *cond      `json:"comm,omitempty"`
	// Pending is set only while the row is encoded: the site's events
	// decided since the last checkpoint (pending.go).
	Pending []pendingEvent `json:"pend,omitempty"`
}

// seqRange is the store's, so that ranges pass to ReplaySites as they are.
type seqRange = store.SeqRange

// start loads configurations and the checkpoint, then evaluates the
// batches committed since the checkpoint. A failed start is retried from
// nothing: what it restored and evaluated is dropped.
func (e *Evaluator) start(ctx context.Context) error {
	e.forgetAll()
	began, err := e.refresh(ctx)
	if err != nil {
		return err
	}
	e.readAll = began
	if e.opts.Owners != nil {
		// Sites are adopted one by one as this aggregator owns them.
		e.lastCkp = e.opts.Now()
		e.adoptHeld(ctx)
		return nil
	}
	states, err := e.st.LoadAlarmStates(ctx)
	if err != nil {
		return err
	}
	e.restore(states)
	if err := e.replaySites(ctx, slices.Collect(maps.Keys(e.sites))); err != nil {
		return err
	}
	e.lastCkp = e.opts.Now()
	return e.checkpoint(ctx)
}

// replaySites evaluates the committed batches of sites that their
// checkpoints do not list as evaluated: their latest sequence numbers and
// then their batches are read in a query or two for all of them, not a
// query or two per site (a thousand sites taken over at once took
// thousands of queries while their batches queued).
func (e *Evaluator) replaySites(ctx context.Context, sites []string) error {
	if len(sites) == 0 {
		return nil
	}
	latest, err := e.st.LatestSeqs(ctx, sites)
	if err != nil {
		return err
	}
	ranges := map[string]seqRange{}
	for _, site := range sites {
		from := uint64(1)
		if ss := e.sites[site]; ss != nil && len(ss.Done) > 0 {
			from = ss.Done[0].Last + 1 // the first batch not known evaluated
		}
		if latest[site] >= from {
			ranges[site] = seqRange{First: from, Last: latest[site]}
		}
	}
	if len(ranges) == 0 {
		return nil
	}
	e.learn(ctx, maps.Keys(ranges))
	n, last := 0, ""
	err = e.st.ReplaySites(ctx, ranges, func(b *store.Batch) error {
		if e.site(b.SiteID).done(b.Seq) {
			return nil
		}
		n, last = n+1, b.SiteID
		e.replayedOne()
		e.evaluateBatch(ctx, b, false)
		return nil
	})
	if n > 0 {
		e.logger.Info("re-evaluated batches committed while not evaluated", "sites", len(ranges), "batches", n, "last_site", last)
	}
	return err
}

// checkpoint writes the state of every point and site that changed,
// then the events decided since the last one, which ride in their sites'
// rows until written (pending.go): after a crash, re-evaluation from the
// checkpoint decides only events nobody has seen.
func (e *Evaluator) checkpoint(ctx context.Context) error {
	return e.checkpointSites(ctx, nil)
}

// checkpointEvents is a checkpoint of only the sites with events to
// write. A site's state is whole without the others' (their batches do
// not touch it), and a park's standing alarms, whose points change at
// every sample, wait for the full checkpoint instead of being written at
// every event anywhere.
func (e *Evaluator) checkpointEvents(ctx context.Context) error {
	return e.checkpointSites(ctx, e.outboxSites())
}

// outboxSites returns the sites of the events not yet written.
func (e *Evaluator) outboxSites() map[string]bool {
	sites := map[string]bool{}
	for _, ev := range e.outbox {
		sites[ev.SiteID] = true
	}
	return sites
}

// checkpointSites checkpoints only (every site when nil).
func (e *Evaluator) checkpointSites(ctx context.Context, only map[string]bool) error {
	pending := map[string][]pendingEvent{}
	for _, ev := range e.outbox {
		pending[ev.SiteID] = append(pending[ev.SiteID], pendingOf(ev))
		e.dirtySites[ev.SiteID] = true
	}
	rows := make([]store.AlarmState, 0, len(e.dirtySites))
	var sites []string
	var saved []*machine
	for id := range e.dirtySites {
		if only != nil && !only[id] {
			continue
		}
		ss := e.site(id)
		ss.Pending = pending[id]
		row, err := stateRow(id, "", ss)
		ss.Pending = nil
		if err != nil {
			return err
		}
		sites = append(sites, id)
		rows = append(rows, row)
	}
	for key, pt := range e.points {
		m := pt.m
		if m == nil || m.marked == unchanged || m.marked == clockMoved && m.LastNs-m.saved < int64(progressEvery) ||
			only != nil && !only[key[0]] {
			continue
		}
		row, err := stateRow(key[0], key[1], m)
		if err != nil {
			return err
		}
		saved = append(saved, m)
		rows = append(rows, row)
	}
	if len(rows) == 0 {
		if only == nil {
			e.lastCkp = e.opts.Now()
		}
		return nil
	}
	defer e.waited("checkpoint", time.Now())
	// Ownership is checked last, right before the insert, so that as
	// little as possible lies between the check and the write. A site no
	// longer ours is forgotten, its unwritten events with it.
	owned := map[string]bool{}
	for _, r := range rows {
		owned[r.SiteID] = true
	}
	epochs, err := e.fence(ctx, owned)
	if err != nil {
		return fmt.Errorf("alarm: checkpoint: %w", err)
	}
	if epochs != nil {
		rows = slices.DeleteFunc(rows, func(r store.AlarmState) bool { _, ok := epochs[r.SiteID]; return !ok })
		for i := range rows {
			rows[i].Epoch = epochs[rows[i].SiteID]
		}
	}
	if len(rows) > 0 {
		if err := e.st.SaveAlarmStates(ctx, rows); err != nil {
			return fmt.Errorf("alarm: checkpoint: %w", err)
		}
	}
	for _, id := range sites {
		delete(e.dirtySites, id)
	}
	for _, m := range saved {
		m.marked, m.saved = unchanged, m.LastNs
	}
	if only == nil {
		e.lastCkp = e.opts.Now()
	}
	if err := e.writeEvents(ctx); err != nil {
		return fmt.Errorf("alarm: write events: %w", err)
	}
	return nil
}

// writeEvents writes the events the checkpoint just saved. Their sites'
// rows still carry them, so those are rewritten without them next time.
// Ownership is checked again: the state's insert may have taken long
// enough for another aggregator to take a site over, and its events are
// carried to that one in the row just saved.
func (e *Evaluator) writeEvents(ctx context.Context) error {
	if len(e.outbox) == 0 {
		return nil
	}
	defer e.waited("events", time.Now())
	epochs, err := e.fence(ctx, e.outboxSites())
	if err != nil {
		return err
	}
	for i := range e.outbox {
		e.outbox[i].Epoch = epochs[e.outbox[i].SiteID]
	}
	if err := e.st.SaveAlarmEvents(ctx, e.outbox); err != nil {
		return err
	}
	for _, ev := range e.outbox {
		e.dirtySites[ev.SiteID] = true
	}
	clear(e.outbox)
	e.outbox = e.outbox[:0]
	return nil
}

// stateRow encodes the checkpointed state of a site (point "") or point.
func stateRow(site, point string, v any) (store.AlarmState, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return store.AlarmState{}, fmt.Errorf("alarm: encode state of %s/%s: %w", site, point, err)
	}
	return store.AlarmState{SiteID: site, PointID: point, State: string(data)}, nil
}

// site returns the state of a site, creating it at its first batch.
func (e *Evaluator) site(id string) *siteState {
	ss := e.sites[id]
	if ss == nil {
		ss = &siteState{}
		e.sites[id] = ss
	}
	return ss
}

// done reports whether batch seq was evaluated.
func (ss *siteState) done(seq uint64) bool {
	for _, r := range ss.Done {
		if seq >= r.First && seq <= r.Last {
			return true
		}
	}
	return false
}

// add records seq as evaluated, merging ranges and keeping at most
// maxSeqRanges (the oldest ranges merge: their holes count as evaluated).
func (ss *siteState) add(seq uint64) {
	rs := append(ss.Done, seqRange{First: seq, Last: seq})
	// Insertion sort of the new range, then merge neighbours.
	for i := len(rs) - 1; i > 0 && rs[i].First < rs[i-1].First; i-- {
		rs[i], rs[i-1] = rs[i-1], rs[i]
	}
	out := rs[:0]
	for _, r := range rs {
		if n := len(out); n > 0 && r.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	for len(out) > maxSeqRanges {
		out[1].First = out[0].First
		out = out[1:]
	}
	ss.Done = out
}
