// Package statuspage serves the agent's read-only status page: OPC UA
// sources, each point's last value, the backlog, recent errors and gaps.
package statuspage

import (
	"math"
	"time"
)

// Snapshotter gives the page what the agent knows now. The agent's service
// implements it; the page calls it once per poll, from any goroutine.
type Snapshotter interface {
	StatusSnapshot(f Filter) Status
}

// Filter bounds the points a snapshot carries: a plant may have 100,000
// of them and the page shows a screenful.
type Filter struct {
	// Query keeps the points whose ID, name, description, equipment or
	// hazard source contains it (case-insensitive); empty keeps all.
	Query string
	// Limit is the most points carried over all sources.
	Limit int
}

// Status is the document /api/status returns.
type Status struct {
	Now     time.Time `json:"now"`
	Version string    `json:"version"`
	Site    Site      `json:"site"`
	Uplink  Uplink    `json:"uplink"`
	Backlog Backlog   `json:"backlog"`
	Sources []Source  `json:"sources"`
	Errors  []Event   `json:"errors"`
	Gaps    []Gap     `json:"gaps"`
}

// Site names the plant.
type Site struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Park string `json:"park"`
}

// Uplink is the link to the aggregator.
type Uplink struct {
	Address   string `json:"address"`
	Connected bool   `json:"connected"`
	// Aggregator is the endpoint the link is on (or was on last),
	// Preferred the one this site's hash ranks first; Failovers counts
	// changes of aggregator.
	Aggregator string `json:"aggregator,omitempty"`
	Preferred  string `json:"preferred,omitempty"`
	Failovers  uint64 `json:"failovers"`
	// Draining is true while a backlog from before the connection is sent
	// beside live data.
	Draining bool `json:"draining"`
}

// Backlog is what waits in the buffer and how fast it leaves.
type Backlog struct {
	Batches          int64   `json:"batches"`
	Bytes            int64   `json:"bytes"`
	Samples          int64   `json:"samples"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	RatePerSecond    float64 `json:"rate_per_second"`
	ETASeconds       float64 `json:"eta_seconds"` // 0: unknown or empty
}

// Source states.
const (
	StateConnected    = "connected"
	StateConnecting   = "connecting"   // the first connection is being made
	StateReconnecting = "reconnecting" // unreadable for less than DownAfter
	StateDown         = "down"
)

// DownAfter is how long a source may be unreadable before the page calls
// it down rather than reconnecting: a DCS restart takes about as long.
const DownAfter = time.Minute

// SourceState names a source's state from whether it is read now and
// since when it has not been.
func SourceState(connected bool, downSince, now time.Time) string {
	switch {
	case connected:
		return StateConnected
	case downSince.IsZero():
		return StateConnecting
	case now.Sub(downSince) < DownAfter:
		return StateReconnecting
	}
	return StateDown
}

// Source is one OPC UA server.
type Source struct {
	Name     string     `json:"name"`
	Endpoint string     `json:"endpoint"`
	State    string     `json:"state"`
	Since    *time.Time `json:"since,omitempty"`
	LastData *time.Time `json:"last_data,omitempty"`
	// LastError is the newest warning or error logged for the source.
	LastError *Event `json:"last_error,omitempty"`
	// PointsTotal counts the source's points, PointsMatched those the
	// filter kept; Points holds at most the filter's limit of them.
	PointsTotal   int     `json:"points_total"`
	PointsMatched int     `json:"points_matched"`
	Points        []Point `json:"points"`
}

// Point is one point's configuration and last sample.
type Point struct {
	ID           string `json:"id"`
	Name         string `json:"name,omitempty"`
	Description  string `json:"description,omitempty"`
	Unit         string `json:"unit,omitempty"`
	Kind         string `json:"kind,omitempty"`
	Equipment    string `json:"equipment,omitempty"`
	HazardSource string `json:"hazard_source,omitempty"`
	HazardName   string `json:"hazard_name,omitempty"`
	OutOfService bool   `json:"out_of_service,omitempty"`
	// Value is a number, bool or string, null before the first sample;
	// NaN and infinities are the strings "NaN", "+Inf", "-Inf" (JSON has
	// no numbers for them).
	Value any `json:"value"`
	// Quality names the OPC UA status code (Status) of the last sample.
	Quality    string     `json:"quality,omitempty"`
	Status     uint32     `json:"status"`
	SourceTime *time.Time `json:"source_time,omitempty"`
	// Received is when the agent received the last sample.
	Received *time.Time `json:"received,omitempty"`
}

// JSONValue turns a sample value into one JSON can carry.
func JSONValue(v any) any {
	f, ok := v.(float64)
	switch {
	case !ok:
		return v
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return f
}

// Event is a warning or error the agent logged.
type Event struct {
	Time      time.Time `json:"time"`
	Level     string    `json:"level"`
	Message   string    `json:"message"`
	Source    string    `json:"source,omitempty"`
	Component string    `json:"component,omitempty"`
	Error     string    `json:"error,omitempty"`
	// Detail holds the record's other attributes as key=value.
	Detail string `json:"detail,omitempty"`
	// Count is how many times in a row it was logged; Time is the last.
	Count int `json:"count"`
}

// Gap is a span of data known lost, as recorded.
type Gap struct {
	Recorded time.Time `json:"recorded"`
	Reason   string    `json:"reason"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Samples  uint64    `json:"samples"`
	// Points counts the points the gap names; 0 means the whole site (or
	// that the loss is not known point by point).
	Points int `json:"points"`
}
