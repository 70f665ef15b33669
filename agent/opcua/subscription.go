package opcua

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// The reader drives the subscription itself (CreateSubscription, Publish,
// acknowledgements) rather than through gopcua's Subscribe: gopcua's publish
// loop swallows keep-alive messages, so a watchdog could not tell a quiet
// subscription from a dead one, and it delivers every NotificationData
// separately through a channel it may block on.

const (
	// keepAliveTarget is the keep-alive period asked for: ten publishing
	// intervals, at most this long and at least keepAliveFloor, never
	// shorter than one publishing interval.
	keepAliveTarget = 5 * time.Second
	// keepAliveFloor is the shortest keep-alive period asked for, whatever
	// the publishing interval: the watchdog is three of them, and on a
	// loaded machine a server answering 100,000 values a second was silent
	// for more than the 1.5 s that a 50 ms publishing interval gave.
	keepAliveFloor = 2 * time.Second
	// watchdogFactor times the keep-alive period (or the publishing
	// interval, if longer) without any publish response means the
	// subscription is dead.
	watchdogFactor = 3
	// maxNotificationsPerPublish bounds one notification message. The
	// reader keeps publishRequestsPerSubscription requests outstanding per
	// subscription, and while it waits for the batcher (see
	// batcher.waitForRoom) the answers to all of them sit decoded in its
	// heap, ~230 bytes a value: with 10,000 a message, an agent held to
	// 0.1 core behind 10,000 points at 10 Hz held ~23 MB of decoded
	// responses. A subscription publishing 2,500 items at twice their
	// change rate fills ~1,250 a message, so 2,500 costs a steady reader
	// nothing and only a reader catching up more round trips.
	maxNotificationsPerPublish = 2500
	// monitorPause is the default pause between CreateMonitoredItems calls.
	monitorPause = 20 * time.Millisecond
)

// subscriptionParams are the subscription settings asked of the server.
type subscriptionParams struct {
	publishingInterval time.Duration
	keepAliveCount     uint32
	lifetimeCount      uint32
}

func newSubscriptionParams(publishing time.Duration) subscriptionParams {
	if publishing <= 0 {
		publishing = 500 * time.Millisecond
	}
	ka := max(min(10*publishing, keepAliveTarget), keepAliveFloor)
	count := max(uint32(math.Ceil(float64(ka)/float64(publishing))), 1)
	return subscriptionParams{
		publishingInterval: publishing,
		keepAliveCount:     count,
		lifetimeCount:      10 * count,
	}
}

// watchdogFor is how long the reader waits for any publish response.
func watchdogFor(publishing time.Duration, keepAliveCount uint32) time.Duration {
	return watchdogFactor * max(publishing, publishing*time.Duration(keepAliveCount))
}

// requestTimeout is the client's request timeout: long enough for a publish
// request to wait out a subscription's silence and the watchdog, so that
// they (not gopcua's timeout) decide when a subscription is dead. Other
// calls get their own shorter deadlines.
func (p subscriptionParams) requestTimeout() time.Duration {
	return silenceFor(p.publishingInterval, p.keepAliveCount, p.lifetimeCount) + watchdogFor(p.publishingInterval, p.keepAliveCount) + 5*time.Second
}

// subscriptions are the live subscriptions of one connection: one, or
// several when the server limits the monitored items per subscription.
// They share one stream of publish requests.
type subscriptions struct {
	r    *Reader
	c    *opcua.Client
	subs []*subscription
	// fewerRequests is set once the server refused a publish request as
	// one too many.
	fewerRequests bool

	// pause is the pause between CreateMonitoredItems calls; calls
	// counts them.
	pause time.Duration
	calls int

	// publishingInterval, keepAlive, watchdog and silence are the longest
	// of the subscriptions'.
	publishingInterval time.Duration
	keepAlive          time.Duration
	watchdog           time.Duration
	silence            time.Duration
	// heard is when the last publish response of any subscription came,
	// moved on by the reader's own pauses (see excuse).
	heard time.Time

	// monitored[h] is true when the item with client handle h (the point's
	// index in the configuration) was created.
	monitored []bool
	// sampling[h] is item h's sampling interval as revised by the server.
	sampling []time.Duration
	// delivered[h] is true once item h delivered its first value, which the
	// server sends on creation even when it is not new (see Sample.Initial).
	delivered []bool
	// itemID[h] and subOf[h] are item h's monitored item ID and
	// subscription; retired[h] is set when Update deleted it, so that
	// values the server sent before the deletion are still delivered.
	itemID  []uint32
	subOf   []*subscription
	retired []bool

	// params, info and nodes are what the items were created from (nodes
	// by handle); live is the session's liveness check, rebuilt when an
	// update changes the items.
	params subscriptionParams
	info   serverInfo
	nodes  []*ua.NodeID
	live   *atomic.Pointer[liveCheck]
}

// subscription is one subscription on the server.
type subscription struct {
	id                 uint32
	publishingInterval time.Duration
	keepAlive          time.Duration
	watchdog           time.Duration
	// silence is how long it may go without a publish response while the
	// session's other subscriptions answer (see silenceFor).
	silence  time.Duration
	items    int
	order    sequencer
	last     time.Time // last publish response for it
	progress progress
}

func (s *subscriptions) monitoredCount() int {
	n := 0
	for _, m := range s.monitored {
		if m {
			n++
		}
	}
	return n
}

// subscribe creates the subscriptions and one monitored item per resolved
// node: at most the server's MaxMonitoredItemsPerSubscription items per
// subscription, created in chunks the server accepts with a pause of
// r.monitorPause between calls.
func (r *Reader) subscribe(ctx context.Context, c *opcua.Client, p subscriptionParams, info serverInfo, nodes []*ua.NodeID) (*subscriptions, error) {
	s := &subscriptions{
		r: r, c: c, pause: r.monitorPause,
		params: p, info: info, nodes: nodes,
	}
	s.grow(len(nodes))
	var items []*ua.MonitoredItemCreateRequest
	for i, id := range nodes {
		if id == nil {
			continue
		}
		items = append(items, &ua.MonitoredItemCreateRequest{
			ItemToMonitor: &ua.ReadValueID{
				NodeID:       id,
				AttributeID:  ua.AttributeIDValue,
				DataEncoding: &ua.QualifiedName{},
			},
			MonitoringMode:      ua.MonitoringModeReporting,
			RequestedParameters: monitoringParameters(r.src, i),
		})
	}
	per := len(items)
	if info.maxItemsPerSubscription > 0 && info.maxItemsPerSubscription < per {
		per = info.maxItemsPerSubscription
	}
	refused := 0
	for first := true; first || len(items) > 0; first = false {
		n := min(per, len(items))
		sub, err := s.create(ctx, p)
		if err != nil {
			s.delete(ctx)
			return nil, err
		}
		bad, err := s.monitor(ctx, sub, info.monitorChunk(), items[:n])
		if err != nil {
			s.delete(ctx)
			return nil, err
		}
		refused += bad
		items = items[n:]
	}
	r.badItems.Store(int64(refused))
	r.monitoredNow.Store(int64(s.monitoredCount()))
	return s, nil
}

// grow extends the per-handle arrays to n handles.
func (s *subscriptions) grow(n int) {
	for len(s.monitored) < n {
		s.monitored = append(s.monitored, false)
		s.sampling = append(s.sampling, 0)
		s.delivered = append(s.delivered, false)
		s.itemID = append(s.itemID, 0)
		s.subOf = append(s.subOf, nil)
		s.retired = append(s.retired, false)
	}
}

// create creates one subscription on the server.
func (s *subscriptions) create(ctx context.Context, p subscriptionParams) (*subscription, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	req := &ua.CreateSubscriptionRequest{
		RequestedPublishingInterval: float64(p.publishingInterval) / float64(time.Millisecond),
		RequestedLifetimeCount:      p.lifetimeCount,
		RequestedMaxKeepAliveCount:  p.keepAliveCount,
		MaxNotificationsPerPublish:  maxNotificationsPerPublish,
		PublishingEnabled:           true,
	}
	var res *ua.CreateSubscriptionResponse
	if err := s.c.Send(cctx, req, assign(&res)); err != nil {
		return nil, fmt.Errorf("create subscription: %w", err)
	}
	if res.SubscriptionID == 0 {
		return nil, errors.New("create subscription: server returned subscription ID 0")
	}
	sub := &subscription{id: res.SubscriptionID}
	s.subs = append(s.subs, sub)
	s.r.subsCreated.Add(1)
	sub.publishingInterval = time.Duration(res.RevisedPublishingInterval * float64(time.Millisecond))
	if sub.publishingInterval <= 0 {
		sub.publishingInterval = p.publishingInterval
	}
	kac := res.RevisedMaxKeepAliveCount
	if kac == 0 {
		kac = p.keepAliveCount
	}
	lc := res.RevisedLifetimeCount
	if lc == 0 {
		lc = p.lifetimeCount
	}
	sub.keepAlive = sub.publishingInterval * time.Duration(kac)
	sub.watchdog = watchdogFor(sub.publishingInterval, kac)
	sub.silence = silenceFor(sub.publishingInterval, kac, lc)
	s.publishingInterval = max(s.publishingInterval, sub.publishingInterval)
	s.keepAlive = max(s.keepAlive, sub.keepAlive)
	s.watchdog = max(s.watchdog, sub.watchdog)
	s.silence = max(s.silence, sub.silence)
	return sub, nil
}

// monitor creates items in sub and returns how many the server refused.
// Items the server refuses are logged (once per point) and counted; they
// never fail the others.
func (s *subscriptions) monitor(ctx context.Context, sub *subscription, chunk int, items []*ua.MonitoredItemCreateRequest) (refused int, err error) {
	for len(items) > 0 {
		if s.calls++; s.calls > 1 && s.pause > 0 {
			t := time.NewTimer(s.pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return refused, ctx.Err()
			case <-t.C:
			}
		}
		n := min(chunk, len(items))
		req := &ua.CreateMonitoredItemsRequest{
			SubscriptionID:     sub.id,
			TimestampsToReturn: ua.TimestampsToReturnBoth,
			ItemsToCreate:      items[:n],
		}
		var res *ua.CreateMonitoredItemsResponse
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := s.c.Send(cctx, req, assign(&res))
		cancel()
		if errors.Is(err, ua.StatusBadTooManyOperations) && n > 1 {
			chunk = n / 2 // the server's limit is lower than it said
			continue
		}
		if err != nil {
			return refused, fmt.Errorf("create monitored items: %w", err)
		}
		if len(res.Results) != n {
			return refused, fmt.Errorf("create monitored items: got %d results for %d items", len(res.Results), n)
		}
		for j, result := range res.Results {
			h := int(items[j].RequestedParameters.ClientHandle)
			if result == nil || isBad(result.StatusCode) {
				status := ua.StatusBad
				if result != nil {
					status = result.StatusCode
				}
				refused++
				s.r.problem(h, "server refused to monitor point; it is not read", "status", statusText(status))
				continue
			}
			s.monitored[h] = true
			s.itemID[h], s.subOf[h] = result.MonitoredItemID, sub
			s.delivered[h], s.retired[h] = false, false
			s.r.itemsCreated.Add(1)
			sub.items++
			s.sampling[h] = time.Duration(result.RevisedSamplingInterval * float64(time.Millisecond))
			if s.sampling[h] <= 0 {
				s.sampling[h] = time.Duration(items[j].RequestedParameters.SamplingInterval * float64(time.Millisecond))
			}
			s.r.recovered(h)
		}
		items = items[n:]
	}
	return refused, nil
}

// monitoringParameters are point i's sampling interval (its own, or the
// source's), queue and data change filter (its deadband, if any).
func monitoringParameters(src config.Source, i int) *ua.MonitoringParameters {
	p := src.Points[i]
	sampling := src.SamplingInterval.D()
	if p.SamplingInterval > 0 {
		sampling = p.SamplingInterval.D()
	}
	mp := &ua.MonitoringParameters{
		ClientHandle:     uint32(i),
		SamplingInterval: float64(sampling) / float64(time.Millisecond),
		QueueSize:        max(src.QueueSize, 1),
		DiscardOldest:    true,
	}
	if d := p.Deadband; d != nil {
		kind := ua.DeadbandTypeAbsolute
		if d.Type == "percent" {
			kind = ua.DeadbandTypePercent
		}
		mp.Filter = ua.NewExtensionObject(&ua.DataChangeFilter{
			Trigger:       ua.DataChangeTriggerStatusValue,
			DeadbandType:  uint32(kind),
			DeadbandValue: d.Value,
		})
	}
	return mp
}

// publishResult is the outcome of one publish request.
type publishResult struct {
	res      *ua.PublishResponse
	err      error
	received time.Time
}

// publishRequestsPerSubscription is how many publish requests the reader
// keeps queued at the server for each subscription. With one, the server
// holds nothing to answer with while the reader decodes a response and
// sends the next request, so every publishing cycle waits a round trip,
// and a server that keeps one value per item between publishes (gopcua's
// does, whatever queue size is asked for) overwrites the changes made in
// that wait. OPC UA clients keep several queued for this reason (Part 4,
// 5.13.5).
const publishRequestsPerSubscription = 2

// run keeps publishRequestsPerSubscription publish requests per
// subscription outstanding and delivers the notifications in each
// subscription's sequence order (see sequencer) until ctx is done (nil) or
// a subscription fails. A session that gets no publish response within the
// watchdog period, or a subscription that gets none within its lifetime
// while the others answer, fails the connection (see lateness.go).
// healthy reports whether any publish response arrived.
func (s *subscriptions) run(ctx context.Context) (healthy bool, err error) {
	byID := make(map[uint32]*subscription, len(s.subs))
	now := time.Now()
	s.heard = now
	for _, sub := range s.subs {
		byID[sub.id] = sub
		sub.last = now
	}
	watch := time.NewTicker(max(s.watchdog/watchdogFactor, time.Millisecond))
	defer watch.Stop()
	outstanding := len(s.subs) * publishRequestsPerSubscription
	results := make(chan publishResult, outstanding)
	pctx, cancel := context.WithCancel(ctx)
	inflight := 0
	defer func() {
		cancel()
		for ; inflight > 0; inflight-- {
			<-results
		}
	}()
	publish := func(acks []*ua.SubscriptionAcknowledgement) {
		inflight++
		go s.publish(pctx, acks, results)
	}
	for range outstanding {
		publish(nil)
	}
	for {
		var pr publishResult
		select {
		case <-ctx.Done():
			return healthy, nil
		case now := <-watch.C:
			if d := now.Sub(s.heard); d > s.watchdog {
				return healthy, fmt.Errorf("no publish response or keep-alive for %s (keep-alive %s): subscription presumed dead", d.Round(time.Millisecond), s.keepAlive)
			}
			continue
		case <-s.r.updated:
			began := time.Now()
			added, err := s.update(ctx)
			s.excuse(time.Since(began))
			if err != nil {
				return healthy, err
			}
			outstanding += s.started(added, byID, publish)
			continue
		case pr = <-results:
			inflight--
		}
		switch {
		case ctx.Err() != nil:
			return healthy, nil
		case errors.Is(pr.err, ua.StatusBadTooManyPublishRequests):
			if !s.fewerPublishRequests(ctx, inflight, publish) {
				return healthy, nil
			}
			continue
		case pr.err != nil:
			return healthy, s.publishError(pr.err)
		}
		sub, err := s.answered(byID, pr, outstanding)
		healthy = healthy || sub != nil
		if err != nil {
			return healthy, err
		}
		msg := pr.res.NotificationMessage
		if msg == nil || len(msg.NotificationData) == 0 {
			publish(nil) // keep-alive
			continue
		}
		publish([]*ua.SubscriptionAcknowledgement{{SubscriptionID: sub.id, SequenceNumber: msg.SequenceNumber}})
		if err := s.deliver(sub, sub.order.push(message{msg: msg, received: pr.received})); err != nil {
			return healthy, err
		}
	}
}

// fewerPublishRequests handles a server that queues fewer requests than we
// keep outstanding (it answered the oldest with BadTooManyPublishRequests):
// keep one fewer from now on. It reports false when ctx ended.
func (s *subscriptions) fewerPublishRequests(ctx context.Context, inflight int, publish func([]*ua.SubscriptionAcknowledgement)) bool {
	if inflight == 0 {
		// Refused with nothing else queued: try again shortly rather
		// than in a tight loop.
		select {
		case <-ctx.Done():
			return false
		case <-time.After(s.publishingInterval):
		}
		publish(nil)
	} else if !s.fewerRequests {
		s.fewerRequests = true
		s.r.logger.Info("server queues fewer publish requests than offered; sending fewer", "outstanding", inflight)
	}
	return true
}

// started takes subscriptions an update created into run's bookkeeping
// and sends their publish requests; it returns how many it sent.
func (s *subscriptions) started(added []*subscription, byID map[uint32]*subscription, publish func([]*ua.SubscriptionAcknowledgement)) int {
	n := 0
	for _, sub := range added {
		byID[sub.id] = sub
		sub.last = time.Now()
		for range publishRequestsPerSubscription {
			publish(nil)
			n++
		}
	}
	return n
}

// publish sends one publish request and reports its answer on results.
func (s *subscriptions) publish(ctx context.Context, acks []*ua.SubscriptionAcknowledgement, results chan<- publishResult) {
	// A queued request is answered only after the ones before it, each of
	// which a quiet subscription answers with a keep-alive and a busy one
	// with a large response: the later ones may wait several keep-alive
	// periods. The session's and each subscription's silence are watched
	// in run; this only bounds a request the server forgot.
	rctx, cancel := context.WithTimeout(ctx, min(s.silence+s.watchdog, s.params.requestTimeout()-time.Second))
	defer cancel()
	var res *ua.PublishResponse
	err := s.c.Send(rctx, &ua.PublishRequest{SubscriptionAcknowledgements: acks}, assign(&res))
	results <- publishResult{res: res, err: err, received: time.Now()}
}

// publishError is the error that ends run after a failed publish request.
func (s *subscriptions) publishError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("no publish response or keep-alive for %s (keep-alive %s): subscription presumed dead", s.watchdog, s.keepAlive)
	}
	return fmt.Errorf("publish: %w", err)
}

// answered takes a publish response: it finds its subscription (nil if it
// is not one of ours), fails when any subscription has been silent past its
// watchdog, and delivers the messages the sequencers stopped waiting for.
func (s *subscriptions) answered(byID map[uint32]*subscription, pr publishResult, outstanding int) (*subscription, error) {
	sub := byID[pr.res.SubscriptionID]
	if sub == nil {
		return nil, fmt.Errorf("publish: response for subscription %d, not one of ours", pr.res.SubscriptionID)
	}
	s.r.outage.touch(pr.received)
	if pr.received.After(sub.last) {
		sub.last = pr.received
	}
	if pr.received.After(s.heard) {
		s.heard = pr.received
	}
	for _, other := range s.subs {
		if d := pr.received.Sub(other.last); d > other.silence {
			return sub, fmt.Errorf("no publish response or keep-alive for subscription %d for %s (keep-alive %s, lifetime %s) while the session's others answered: subscription presumed dead", other.id, d.Round(time.Millisecond), other.keepAlive, other.silence)
		}
	}
	for _, other := range s.subs {
		if err := s.deliver(other, other.order.expire(outstanding)); err != nil {
			return sub, err
		}
	}
	return sub, nil
}

// deliver hands the samples of messages in order to the reader. The time
// it takes (the reader's sink may hold it while the disk buffer catches
// up) is excused from the subscriptions' silence.
func (s *subscriptions) deliver(sub *subscription, ms []message) error {
	if len(ms) == 0 {
		return nil
	}
	began := time.Now()
	defer func() { s.excuse(time.Since(began)) }()
	for _, m := range ms {
		if m.missing > 0 {
			s.r.logger.Warn("notification messages missing", "subscription", sub.id, "missing", m.missing, "before", m.msg.SequenceNumber)
		}
		batch, handles, err := s.samples(sub, m.msg, m.received)
		sub.progress.note(m.received, batch)
		s.r.deliverAt(batch, handles)
		if err != nil {
			return err
		}
	}
	return nil
}

// delete removes the subscriptions from the server before the session is
// closed. Closing the session should do that too, but not every server
// honours it (gopcua's own server keeps the subscription running).
func (s *subscriptions) delete(ctx context.Context) {
	if len(s.subs) == 0 {
		return
	}
	ids := make([]uint32, len(s.subs))
	for i, sub := range s.subs {
		ids[i] = sub.id
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancel()
	var res *ua.DeleteSubscriptionsResponse
	_ = s.c.Send(cctx, &ua.DeleteSubscriptionsRequest{SubscriptionIDs: ids}, assign(&res))
}

// assign returns a gopcua response handler that stores a response of type T.
func assign[T ua.Response](dst *T) func(ua.Response) error {
	return func(v ua.Response) error {
		r, ok := v.(T)
		if !ok {
			return fmt.Errorf("unexpected response %T, want %T", v, *dst)
		}
		*dst = r
		return nil
	}
}
