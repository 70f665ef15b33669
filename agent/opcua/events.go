package opcua

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// ConditionEventRecorder keeps the server's own alarm and condition
// events. A Sink that implements it receives them when the source has
// events enabled.
type ConditionEventRecorder interface {
	RecordConditionEvent(e *lifelinev1.ConditionEvent)
}

// eventCheckEvery is how often the event session reads the server state:
// gopcua's subscription does not report a dead channel to its notify
// channel, so a failed read is what ends the session.
const eventCheckEvery = 5 * time.Second

// runEvents reads the source's alarm and condition events on a session of
// its own until ctx is done, reconnecting after a backoff. A session of
// its own keeps the event subscription out of the value subscription's
// publish loop, which owns every publish response of its session.
func (r *Reader) runEvents(ctx context.Context, rec ConditionEventRecorder) {
	bo := newBackoff(r.base.ReconnectMin.D(), r.base.ReconnectMax.D())
	for {
		healthy, err := r.eventSession(ctx, rec)
		if ctx.Err() != nil {
			return
		}
		if healthy {
			bo.Reset()
		}
		delay := bo.Delay()
		r.logger.Warn("OPC UA event session failed; reconnecting", "err", err, "retry_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// eventSession connects, monitors the notifiers' events, asks for a
// ConditionRefresh so the state of every retained condition is sent again
// (stored once: the aggregator keys events by EventId), and delivers
// events until the connection fails.
func (r *Reader) eventSession(ctx context.Context, rec ConditionEventRecorder) (healthy bool, err error) {
	c, err := newClient(ctx, r.base, callTimeout)
	if err != nil {
		return false, err
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	err = c.Connect(cctx)
	cancel()
	if err != nil {
		closeClient(ctx, c)
		return false, connectError(r.base, err)
	}
	defer closeClient(ctx, c)

	cctx, cancel = context.WithTimeout(ctx, callTimeout)
	info, err := readServerInfo(cctx, c)
	cancel()
	if err != nil {
		return false, err
	}
	notify := make(chan *opcua.PublishNotificationData, 64)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	sub, err := c.Subscribe(sctx, &opcua.SubscriptionParameters{Interval: r.base.PublishingInterval.D()}, notify)
	if err != nil {
		return false, fmt.Errorf("create event subscription: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
		_ = sub.Cancel(dctx)
		cancel()
	}()
	if err := r.monitorNotifiers(sctx, sub, info.namespaces); err != nil {
		return false, err
	}
	if err := conditionRefresh(sctx, c, sub.SubscriptionID); err != nil {
		// Servers without conditions may not implement the method; events
		// still arrive, only the state of standing alarms is not re-sent.
		r.logger.Warn("OPC UA ConditionRefresh failed", "err", err)
	}
	r.logger.Info("OPC UA event subscription running", "notifiers", r.base.Events.Notifiers)
	return r.readEvents(sctx, c, notify, info.namespaces, rec)
}

func (r *Reader) monitorNotifiers(ctx context.Context, sub *opcua.Subscription, namespaces []string) error {
	var items []*ua.MonitoredItemCreateRequest
	for i, n := range r.base.Events.Notifiers {
		node, err := ParseNodeID(n, namespaces)
		if err != nil {
			return fmt.Errorf("event notifier: %w", err)
		}
		items = append(items, eventItem(node, uint32(i+1)))
	}
	res, err := sub.Monitor(ctx, ua.TimestampsToReturnBoth, items...)
	if err != nil {
		return fmt.Errorf("monitor event notifiers: %w", err)
	}
	for i, it := range res.Results {
		if it.StatusCode != ua.StatusOK {
			return fmt.Errorf("monitor events of %s: %w", r.base.Events.Notifiers[i], it.StatusCode)
		}
	}
	return nil
}

// readEvents delivers the subscription's events and checks the session
// every eventCheckEvery. Events between a RefreshStartEvent and a
// RefreshEndEvent are marked refresh.
func (r *Reader) readEvents(ctx context.Context, c *opcua.Client, notify <-chan *opcua.PublishNotificationData, namespaces []string, rec ConditionEventRecorder) (bool, error) {
	tick := time.NewTicker(eventCheckEvery)
	defer tick.Stop()
	healthy, refreshing := false, false
	for {
		select {
		case <-ctx.Done():
			return healthy, ctx.Err()
		case <-tick.C:
			cctx, cancel := context.WithTimeout(ctx, callTimeout)
			_, err := readServerInfo(cctx, c)
			cancel()
			if err != nil {
				return healthy, fmt.Errorf("event session check: %w", err)
			}
		case n := <-notify:
			if n.Error != nil {
				return healthy, fmt.Errorf("event publish: %w", n.Error)
			}
			list, ok := n.Value.(*ua.EventNotificationList)
			if !ok {
				continue
			}
			healthy = true
			now := time.Now()
			for _, ev := range list.Events {
				ce := conditionEvent(ev.EventFields, now, namespaces)
				switch ce.GetEventType() {
				case refreshStartType:
					refreshing = true
					continue
				case refreshEndType:
					refreshing = false
					continue
				}
				if ce.ConditionId == "" {
					// Not a condition's event: audit events (node-opcua sends
					// an AuditConditionAcknowledgeEvent for every
					// acknowledgement), system and model change events.
					continue
				}
				ce.Refresh = refreshing
				ce.Source = r.base.Name
				rec.RecordConditionEvent(ce)
				r.condEvents.Add(1)
			}
		}
	}
}

// conditionRefresh asks the server to send the state of every retained
// condition to the subscription again (Part 9, 5.5.7).
func conditionRefresh(ctx context.Context, c *opcua.Client, subID uint32) error {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	res, err := c.Call(cctx, &ua.CallMethodRequest{
		ObjectID:       ua.NewNumericNodeID(0, id.ConditionType),
		MethodID:       ua.NewNumericNodeID(0, id.ConditionType_ConditionRefresh),
		InputArguments: []*ua.Variant{ua.MustVariant(subID)},
	})
	if err != nil {
		return err
	}
	if res.StatusCode != ua.StatusOK {
		return res.StatusCode
	}
	return nil
}

// The event fields selected, in order; see eventFields.
const (
	fEventID = iota
	fEventType
	fSourceNode
	fSourceName
	fTime
	fSeverity
	fMessage
	fConditionName
	fRetain
	fActive
	fAcked
	fConditionID
	nEventFields
)

var (
	refreshStartType = ua.NewNumericNodeID(0, id.RefreshStartEventType).String()
	refreshEndType   = ua.NewNumericNodeID(0, id.RefreshEndEventType).String()
)

// eventFields are the EventFilter's select clauses: the base event's
// fields, then the condition's (empty for events of other types).
func eventFields() []*ua.SimpleAttributeOperand {
	op := func(typ uint32, path ...string) *ua.SimpleAttributeOperand {
		qs := make([]*ua.QualifiedName, len(path))
		for i, p := range path {
			qs[i] = &ua.QualifiedName{Name: p}
		}
		return &ua.SimpleAttributeOperand{TypeDefinitionID: ua.NewNumericNodeID(0, typ), BrowsePath: qs, AttributeID: ua.AttributeIDValue}
	}
	return []*ua.SimpleAttributeOperand{
		fEventID:       op(id.BaseEventType, "EventId"),
		fEventType:     op(id.BaseEventType, "EventType"),
		fSourceNode:    op(id.BaseEventType, "SourceNode"),
		fSourceName:    op(id.BaseEventType, "SourceName"),
		fTime:          op(id.BaseEventType, "Time"),
		fSeverity:      op(id.BaseEventType, "Severity"),
		fMessage:       op(id.BaseEventType, "Message"),
		fConditionName: op(id.ConditionType, "ConditionName"),
		fRetain:        op(id.ConditionType, "Retain"),
		fActive:        op(id.AlarmConditionType, "ActiveState", "Id"),
		fAcked:         op(id.AcknowledgeableConditionType, "AckedState", "Id"),
		// The condition's own node: the ConditionType with an empty path
		// and the NodeId attribute (Part 9, 5.5.2).
		fConditionID: {TypeDefinitionID: ua.NewNumericNodeID(0, id.ConditionType), AttributeID: ua.AttributeIDNodeID},
	}
}

func eventItem(node *ua.NodeID, handle uint32) *ua.MonitoredItemCreateRequest {
	filter := &ua.ExtensionObject{
		EncodingMask: ua.ExtensionObjectBinary,
		TypeID:       &ua.ExpandedNodeID{NodeID: ua.NewNumericNodeID(0, id.EventFilter_Encoding_DefaultBinary)},
		Value:        ua.EventFilter{SelectClauses: eventFields(), WhereClause: &ua.ContentFilter{}},
	}
	return &ua.MonitoredItemCreateRequest{
		ItemToMonitor:  &ua.ReadValueID{NodeID: node, AttributeID: ua.AttributeIDEventNotifier, DataEncoding: &ua.QualifiedName{}},
		MonitoringMode: ua.MonitoringModeReporting,
		RequestedParameters: &ua.MonitoringParameters{
			ClientHandle:  handle,
			DiscardOldest: false, // keep the oldest: a transition lost is worse than one late
			Filter:        filter,
			QueueSize:     1000,
		},
	}
}

// conditionEvent converts one event's fields; fields the event's type
// does not have arrive as null variants and stay zero.
func conditionEvent(f []*ua.Variant, received time.Time, namespaces []string) *lifelinev1.ConditionEvent {
	get := func(i int) any {
		if i < len(f) && f[i] != nil {
			return f[i].Value()
		}
		return nil
	}
	ce := &lifelinev1.ConditionEvent{ReceiveNs: received.UnixNano()}
	if b, ok := get(fEventID).([]byte); ok {
		ce.EventId = b
	}
	ce.EventType = nodeText(get(fEventType), nil)
	ce.SourceNode = nodeText(get(fSourceNode), namespaces)
	ce.SourceName = eventText(get(fSourceName))
	if t, ok := get(fTime).(time.Time); ok && !t.IsZero() {
		ce.TimeNs = t.UnixNano()
	}
	if s, ok := get(fSeverity).(uint16); ok {
		ce.Severity = uint32(s)
	}
	ce.Message = eventText(get(fMessage))
	ce.ConditionName = eventText(get(fConditionName))
	ce.Retain, _ = get(fRetain).(bool)
	ce.Active, _ = get(fActive).(bool)
	ce.Acked, _ = get(fAcked).(bool)
	ce.ConditionId = nodeText(get(fConditionID), namespaces)
	return ce
}

// nodeText writes a node ID the way the agent's configuration does: by
// namespace URI (nsu=…), as indexes may change when the server restarts.
func nodeText(v any, namespaces []string) string {
	var n *ua.NodeID
	switch x := v.(type) {
	case *ua.NodeID:
		n = x
	case *ua.ExpandedNodeID:
		n = x.NodeID
	}
	if n == nil {
		return ""
	}
	s := n.String()
	if i := int(n.Namespace()); i > 0 && i < len(namespaces) {
		if _, rest, ok := strings.Cut(s, ";"); ok {
			return eventText("nsu=" + namespaces[i] + ";" + rest)
		}
	}
	return eventText(s)
}

func eventText(v any) string {
	switch s := v.(type) {
	case string:
		return strings.ToValidUTF8(s, "\uFFFD")
	case *ua.LocalizedText:
		return strings.ToValidUTF8(s.Text, "\uFFFD")
	case *ua.QualifiedName:
		return strings.ToValidUTF8(s.Name, "\uFFFD")
	}
	return ""
}
