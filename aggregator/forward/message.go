package forward

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Message is what a payload template and a destination template are
// executed with. Fields that do not apply to a kind are zero.
type Message struct {
	// Key identifies the message: the same target, kind, enterprise and
	// time always give the same key, so a platform can drop a re-send.
	Key    string
	Target string
	Kind   string
	// Time is the period's start (realtime), the alarm's start or end, the
	// heartbeat's or the base data's time.
	Time time.Time
	// Now is when the message was rendered (not part of Key).
	Now        time.Time
	Enterprise Enterprise
	// Part and Parts number the messages one period of one enterprise was
	// split into (max_values), from 1.
	Part, Parts int
	Values      []Value // realtime
	Alarm       *Alarm  // alarm
	Base        *Base   // base
}

// Enterprise is the site being reported.
type Enterprise struct {
	SiteID string
	// Code is the province's code (统一社会信用代码 by default).
	Code string
	Name string
	Park string
}

// Value is one point's newest value of a period.
type Value struct {
	// Key identifies this value (target, kind, site, point, period).
	Key     string
	PointID string
	Code    string // the province's 指标编码
	Name    string
	Unit    string
	Kind    string
	Time    time.Time // the sample's source time
	Value   float64
	Text    string
	Type    string // number, bool or text
	Good    bool
	Status  uint32
}

// Alarm is the start or the end of an alarm.
type Alarm struct {
	Key       string
	PointID   string // "" for a site-wide alarm
	Code      string // the point's 指标编码, "" for a site-wide alarm
	Name      string
	Condition string // HH, H, L, LL, stage1, stage2, bad_quality, stale, comm_loss…
	Priority  uint8
	End       bool
	RaisedAt  time.Time
	ClearedAt time.Time // zero at the start
	Value     float64   // the value that raised it
	Limit     float64
	Peak      float64
	// ClearValue is the value that cleared it (at the end).
	ClearValue float64
	EndReason  string
	Unit       string
	HazardCode string // the province's code of the hazard source
	Equipment  string
	Backfill   bool
}

// Base is a site's base data: hazard sources, equipment and media, points.
type Base struct {
	Hazards   []Hazard
	Equipment []Equipment
	Media     []string
	Points    []Point
}

// Hazard is a major hazard source.
type Hazard struct {
	LocalCode string
	Code      string // the province's code
	Name      string
	Level     uint8
	UnitType  string
}

// Equipment is a tank, reactor, warehouse… with its medium.
type Equipment struct {
	Name       string
	Type       string
	Medium     string
	HazardCode string // the province's code of its hazard source
}

// Point is a monitored point with its range and limits.
type Point struct {
	PointID, Code, Name, Description, Unit, Kind string
	RangeLow, RangeHigh                          *float64
	LL, L, H, HH, Stage1, Stage2                 *float64
	HazardCode                                   string // the province's code
	Equipment                                    string
	OutOfService                                 bool
}

// idempotencyKey derives a message's key from what identifies it. It is
// deterministic, so a message sent again after a crash carries the key it
// had the first time.
func idempotencyKey(target, kind string, parts ...any) string {
	var b strings.Builder
	b.WriteString(target)
	b.WriteString("|")
	b.WriteString(kind)
	for _, p := range parts {
		fmt.Fprintf(&b, "|%v", p)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}
