package plantsim

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gopcua/opcua/ua"
)

// tsResolution is the resolution of an OPC UA DateTime (100 ns ticks).
const tsResolution = 100 * time.Nanosecond

// variable holds the current value of one simulated node. The server reads
// it through dv without locking; writers hold mu so that source timestamps
// are strictly increasing per node.
type variable struct {
	spec *PointSpec
	dv   atomic.Pointer[ua.DataValue]

	// set when the address space is built
	id  *ua.NodeID
	key string // id.String(), the server's key for monitored items

	mu     sync.Mutex
	value  any // the model's latest value, kept while the node is bad
	lastTS time.Time
	bad    bool
}

// stamp returns a source timestamp strictly after the previous one.
func (v *variable) stamp(now time.Time) time.Time {
	ts := now.UTC().Truncate(tsResolution)
	if !ts.After(v.lastTS) {
		ts = v.lastTS.Add(tsResolution)
	}
	v.lastTS = ts
	return ts
}

// set records a new model value. It reports whether the node's value
// changed, i.e. whether subscribers must be told. Numbers always change (a
// repeated number is nudged by the last digit), booleans and strings only
// when they differ, and a bad node keeps reporting its bad status.
func (v *variable) set(val any, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if x, ok := val.(float64); ok {
		if prev, ok := v.value.(float64); ok && prev == x {
			if v.spec.Range != nil && x+0.001 > v.spec.Range.High {
				x -= 0.001
			} else {
				x += 0.001
			}
			val = x
		}
	} else if v.value == val {
		return false
	}
	v.value = val
	if v.bad {
		return false
	}
	ts := v.stamp(now)
	v.dv.Store(&ua.DataValue{
		EncodingMask:    ua.DataValueValue | ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp,
		Value:           ua.MustVariant(val),
		SourceTimestamp: ts,
		ServerTimestamp: ts,
	})
	return true
}

// setBad switches the node between its model value and a bad status. It
// reports whether the node's value changed.
func (v *variable) setBad(bad bool, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.bad == bad {
		return false
	}
	v.bad = bad
	ts := v.stamp(now)
	dv := &ua.DataValue{
		EncodingMask:    ua.DataValueSourceTimestamp | ua.DataValueServerTimestamp,
		SourceTimestamp: ts,
		ServerTimestamp: ts,
	}
	switch {
	case bad:
		dv.EncodingMask |= ua.DataValueStatusCode
		dv.Status = ua.StatusBadSensorFailure
	case v.value != nil:
		dv.EncodingMask |= ua.DataValueValue
		dv.Value = ua.MustVariant(v.value)
	default:
		dv.EncodingMask |= ua.DataValueStatusCode
		dv.Status = ua.StatusBadWaitingForInitialData
	}
	v.dv.Store(dv)
	return true
}

// current returns the node's value as the server serves it.
func (v *variable) current() *ua.DataValue {
	if dv := v.dv.Load(); dv != nil {
		return dv
	}
	return &ua.DataValue{
		EncodingMask:    ua.DataValueStatusCode | ua.DataValueServerTimestamp,
		Status:          ua.StatusBadWaitingForInitialData,
		ServerTimestamp: time.Now(),
	}
}
