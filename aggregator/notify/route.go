package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// candidate is one notification a rule asks for: an alarm, a step, a
// recipient.
type candidate struct {
	id        string
	alarm     store.NotifyAlarm
	step      int
	after     time.Duration
	recipient string
}

// matches reports whether the alarm is selected by every non-empty list.
func (m Match) matches(a store.NotifyAlarm) bool {
	in := func(list []string, v string) bool { return len(list) == 0 || slices.Contains(list, v) }
	return in(m.Parks, a.Park) && in(m.Sites, a.SiteID) && in(m.Hazards, a.HazardCode) && in(m.Kinds, a.Kind) &&
		in(m.Conditions, a.Condition) && (len(m.Priorities) == 0 || slices.Contains(m.Priorities, a.Priority))
}

// candidates returns the notifications due at now for alarm a, by every
// rule that matches it. A step with a delay is due only while the alarm
// is active; acknowledgement is checked later, in one query. A
// back-filled alarm only ever gets its immediate steps (as a summary).
func (c *Config) candidates(a store.NotifyAlarm, now time.Time) []candidate {
	if len(c.OwnedParks) > 0 && !slices.Contains(c.OwnedParks, a.Park) {
		return nil
	}
	var out []candidate
	for _, r := range c.Rules {
		if !r.Match.matches(a) {
			continue
		}
		for i, st := range r.Steps {
			if st.After > 0 && (!a.Active || a.Backfill) {
				continue
			}
			if a.RaisedNs+int64(st.After) > now.UnixNano() {
				continue
			}
			for _, rc := range st.Recipients {
				out = append(out, candidate{id: notificationID(a.Key(), i, rc), alarm: a, step: i, after: st.After, recipient: rc})
			}
		}
	}
	return out
}

// notificationID is deterministic: the same alarm, step and recipient
// always give the same id, on any aggregator, before and after a restart.
func notificationID(k store.AlarmKey, step int, recipient string) string {
	return "n" + digest(k.SiteID, k.PointID, k.Condition, strconv.FormatInt(k.RaisedNs, 10), strconv.Itoa(step), recipient)
}

// summaryID names the flood (kind "f") or back-fill (kind "b") summary of
// a recipient for the window starting at windowNs, written by the notifier
// named notifier (empty: by any).
func summaryID(kind byte, recipient string, windowNs int64, notifier string) string {
	if notifier == "" {
		return string(kind) + digest(recipient, strconv.FormatInt(windowNs, 10))
	}
	return string(kind) + digest(recipient, strconv.FormatInt(windowNs, 10), notifier)
}

func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
