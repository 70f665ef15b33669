package alarm

import (
	"encoding/json"
	"math"
	"strconv"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// An event is written only after the checkpoint of the state that decided
// it, and rides in its site's checkpoint row until then (siteState.Pending).
// Written the other way round, a crash between the two writes left events
// whose state was lost; the restart re-evaluated the batches in sequence
// order, not in the live-first order they had arrived in, and raised the
// same excursion at another time, leaving the first raise active forever
// with no machine to clear it. Now a restart re-evaluates only batches
// whose events nobody has seen, and writes the events its checkpoint
// carries (again, perhaps: rows with the same key collapse).

// pendingEvent is a store.AlarmEvent as a checkpoint row carries it.
type pendingEvent struct {
	Point      string  `json:"p,omitempty"`
	Condition  string  `json:"c"`
	Priority   uint8   `json:"pr,omitempty"`
	Active     bool    `json:"a,omitempty"`
	RaisedNs   int64   `json:"r"`
	ClearedNs  int64   `json:"x,omitempty"`
	Value      jsonNum `json:"v"`
	Limit      jsonNum `json:"l"`
	Deadband   jsonNum `json:"d"`
	Peak       jsonNum `json:"k"`
	ClearValue jsonNum `json:"cv"`
	EndReason  string  `json:"e,omitempty"`
	Backfill   bool    `json:"b,omitempty"`
	Kind       string  `json:"kind,omitempty"`
	Unit       string  `json:"unit,omitempty"`
	HazardCode string  `json:"hz,omitempty"`
	Equipment  string  `json:"eq,omitempty"`
}

func pendingOf(ev store.AlarmEvent) pendingEvent {
	return pendingEvent{
		Point: ev.PointID, Condition: ev.Condition, Priority: ev.Priority, Active: ev.Active,
		RaisedNs: ev.RaisedNs, ClearedNs: ev.ClearedNs,
		Value: jsonNum(ev.Value), Limit: jsonNum(ev.Limit), Deadband: jsonNum(ev.Deadband),
		Peak: jsonNum(ev.Peak), ClearValue: jsonNum(ev.ClearValue),
		EndReason: ev.EndReason, Backfill: ev.Backfill,
		Kind: ev.Kind, Unit: ev.Unit, HazardCode: ev.HazardCode, Equipment: ev.Equipment,
	}
}

func (p pendingEvent) event(site string) store.AlarmEvent {
	return store.AlarmEvent{
		SiteID: site, PointID: p.Point, Condition: p.Condition, Priority: p.Priority, Active: p.Active,
		RaisedNs: p.RaisedNs, ClearedNs: p.ClearedNs,
		Value: float64(p.Value), Limit: float64(p.Limit), Deadband: float64(p.Deadband),
		Peak: float64(p.Peak), ClearValue: float64(p.ClearValue),
		EndReason: p.EndReason, Backfill: p.Backfill,
		Kind: p.Kind, Unit: p.Unit, HazardCode: p.HazardCode, Equipment: p.Equipment,
	}
}

// jsonNum is a float64 that JSON carries whole: events report "no limit"
// and "no value" as NaN, which JSON lacks (null here), and a configured
// limit may be infinite ("+Inf", "-Inf").
type jsonNum float64

func (n jsonNum) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte("null"), nil
	case math.IsInf(f, 0):
		return strconv.AppendQuote(nil, strconv.FormatFloat(f, 'g', -1, 64)), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

func (n *jsonNum) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = jsonNum(math.NaN())
		return nil
	}
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*n = jsonNum(f)
	return nil
}
