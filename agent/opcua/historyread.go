package opcua

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// errNoHistory is a server's answer that it does not do HistoryRead at all.
var errNoHistory = errors.New("server does not support history read")

// unsupported reports whether status says the server does no history
// reads (as a whole, or for a node).
func unsupported(status ua.StatusCode) bool {
	switch status {
	case ua.StatusBadHistoryOperationUnsupported, ua.StatusBadNotSupported, ua.StatusBadServiceUnsupported:
		return true
	}
	return false
}

// readHistory reads the tasks' windows, nodesPerRequest points per
// HistoryRead, and delivers what it reads as it goes. Points whose read
// the server refuses are marked outcomeFailed; errNoHistory means the
// server refused every read as unsupported.
func (r *Reader) readHistory(ctx context.Context, c *opcua.Client, p backfillPlan, tasks []task, run *backfillRun) error {
	refused, answered := 0, 0
	for _, group := range groupTasks(tasks, r.history.nodesPerRequest, r.history.groupSlack) {
		n, ok, err := r.readGroup(ctx, c, p, group, run)
		refused += n
		answered += ok
		if err != nil {
			if unsupported(statusOf(err)) {
				return fmt.Errorf("%w: %w", errNoHistory, err)
			}
			return err
		}
	}
	if answered == 0 && refused > 0 {
		return errNoHistory
	}
	return nil
}

// statusOf is the status code an error carries, or StatusOK.
func statusOf(err error) ua.StatusCode {
	var s ua.StatusCode
	if errors.As(err, &s) {
		return s
	}
	return ua.StatusOK
}

// groupTasks puts tasks whose windows start close together into groups
// of at most per, each point at most once per group.
func groupTasks(tasks []task, per int, slack time.Duration) [][]task {
	sorted := slices.Clone(tasks)
	slices.SortStableFunc(sorted, func(a, b task) int {
		switch {
		case a.w.From < b.w.From:
			return -1
		case a.w.From > b.w.From:
			return 1
		}
		return 0
	})
	var groups [][]task
	var cur []task
	for _, t := range sorted {
		dup := slices.ContainsFunc(cur, func(o task) bool { return o.point == t.point })
		if len(cur) > 0 && (len(cur) >= per || dup || t.w.From-cur[0].w.From > int64(slack)) {
			groups = append(groups, cur)
			cur = nil
		}
		cur = append(cur, t)
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

// readGroup reads one group of windows to their ends, following
// continuation points, with the limits' pause between requests. It
// returns how many points the server refused as unsupported and how many
// it answered.
func (r *Reader) readGroup(ctx context.Context, c *opcua.Client, p backfillPlan, group []task, run *backfillRun) (refused, answered int, err error) {
	start, end := group[0].w.From, group[0].w.To
	for _, t := range group {
		start, end = min(start, t.w.From), max(end, t.w.To)
	}
	details := &ua.ReadRawModifiedDetails{
		// Whole milliseconds around the span: many servers keep no finer
		// time, and the values at the window's ends are dropped here.
		StartTime:        time.Unix(0, start).Truncate(time.Millisecond),
		EndTime:          time.Unix(0, end).Add(time.Millisecond - 1).Truncate(time.Millisecond),
		NumValuesPerNode: r.history.valuesPerNode,
	}
	active := slices.Clone(group)
	cps := make([][]byte, len(active))
	defer func() {
		if len(active) > 0 {
			r.releaseContinuation(ctx, c, p, active, cps)
		}
	}()
	for len(active) > 0 {
		ids := make([]*ua.HistoryReadValueID, len(active))
		for j, t := range active {
			ids[j] = &ua.HistoryReadValueID{NodeID: p.nodes[t.point], DataEncoding: &ua.QualifiedName{}, ContinuationPoint: cps[j]}
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		res, err := c.HistoryReadRawModified(cctx, ids, details)
		cancel()
		if err != nil {
			return refused, answered, fmt.Errorf("history read: %w", err)
		}
		if len(res.Results) != len(active) {
			return refused, answered, fmt.Errorf("history read: got %d results for %d nodes", len(res.Results), len(active))
		}
		var next []task
		var nextCP [][]byte
		received := time.Now()
		for j, result := range res.Results {
			t := active[j]
			more, ok := r.takeHistory(p, t, result, received, run)
			if !ok {
				if result != nil && unsupported(result.StatusCode) {
					refused++
				}
				continue
			}
			answered++
			if more {
				next, nextCP = append(next, t), append(nextCP, result.ContinuationPoint)
			}
		}
		active, cps = next, nextCP
		if err := r.historyPause(ctx); err != nil {
			return refused, answered, err
		}
	}
	return refused, answered, nil
}

// takeHistory delivers one node's answer. more is set when the server
// has more values for it (a continuation point); ok is false when the
// server refused the read, which marks the point failed.
func (r *Reader) takeHistory(p backfillPlan, t task, result *ua.HistoryReadResult, received time.Time, run *backfillRun) (more, ok bool) {
	id := p.ids[t.point]
	if result == nil || isBad(result.StatusCode) {
		status := ua.StatusBad
		if result != nil {
			status = result.StatusCode
		}
		run.out[t.point] = outcomeFailed
		r.logger.Warn("history read of point refused; its missed values are not read back",
			"point", id, "node", p.src.Points[t.point].Node, "status", statusText(status))
		return false, false
	}
	var batch []*lifelinev1.Sample
	newest := t.w.From
	values := historyValues(result)
	var times []int64
	for _, dv := range values {
		if s := historySample(id, dv, t.w, received); s != nil {
			batch = append(batch, s)
			times = append(times, s.SourceTimeNs)
			newest = max(newest, s.SourceTimeNs)
		}
	}
	r.deliverHistory(batch)
	r.hist.readBack(times)
	run.read += len(batch)
	more = len(result.ContinuationPoint) > 0
	if more && len(values) == 0 {
		run.empty[t.point]++
	} else {
		run.empty[t.point] = 0
	}
	if run.empty[t.point] > maxEmptyPages {
		run.out[t.point] = outcomeFailed
		r.logger.Warn("history read of point gives no values but always more; given up", "point", id)
		return false, false
	}
	r.hist.progress(id, t.w, newest, !more)
	if !more {
		run.finished(t.point)
	}
	return more, true
}

// historyPause waits between history requests.
func (r *Reader) historyPause(ctx context.Context) error {
	if r.history.pause <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(r.history.pause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// releaseContinuation frees the continuation points of reads given up
// (the session ends, a read failed), so the server does not hold them
// until the session closes. Best effort, within closeTimeout.
func (r *Reader) releaseContinuation(ctx context.Context, c *opcua.Client, p backfillPlan, active []task, cps [][]byte) {
	var ids []*ua.HistoryReadValueID
	for j, t := range active {
		if len(cps[j]) > 0 {
			ids = append(ids, &ua.HistoryReadValueID{NodeID: p.nodes[t.point], DataEncoding: &ua.QualifiedName{}, ContinuationPoint: cps[j]})
		}
	}
	if len(ids) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	req := &ua.HistoryReadRequest{
		HistoryReadDetails: ua.NewExtensionObject(&ua.ReadRawModifiedDetails{}),
		TimestampsToReturn: ua.TimestampsToReturnBoth, ReleaseContinuationPoints: true, NodesToRead: ids,
	}
	var res *ua.HistoryReadResponse
	_ = c.Send(cctx, req, assign(&res))
}

// historyValues are the data values of one node's history read answer.
func historyValues(result *ua.HistoryReadResult) []*ua.DataValue {
	if result.HistoryData == nil {
		return nil
	}
	if hd, _ := result.HistoryData.Value.(*ua.HistoryData); hd != nil {
		return hd.DataValues
	}
	return nil
}
