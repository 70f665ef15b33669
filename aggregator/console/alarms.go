package console

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// listLimit bounds one listing; a park with more open alarms than this
// has a flood the dashboards show better.
const listLimit = 1000

// alarmID encodes an alarm's key as one opaque string: raised_ns does not
// survive a JavaScript number.
func alarmID(k store.AlarmKey) string {
	s := strings.Join([]string{k.SiteID, k.PointID, k.Condition, strconv.FormatInt(k.RaisedNs, 10)}, "\x1f")
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

func parseAlarmID(id string) (store.AlarmKey, error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return store.AlarmKey{}, errors.New("bad alarm id")
	}
	parts := strings.Split(string(b), "\x1f")
	if len(parts) != 4 {
		return store.AlarmKey{}, errors.New("bad alarm id")
	}
	ns, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return store.AlarmKey{}, errors.New("bad alarm id")
	}
	return store.AlarmKey{SiteID: parts[0], PointID: parts[1], Condition: parts[2], RaisedNs: ns}, nil
}

// alarm is one alarm as the API shows it; times are RFC 3339, empty when
// not set.
type alarm struct {
	ID           string  `json:"id"`
	SiteID       string  `json:"site_id"`
	PointID      string  `json:"point_id"`
	Condition    string  `json:"condition"`
	Priority     uint8   `json:"priority"`
	Active       bool    `json:"active"`
	RaisedAt     string  `json:"raised_at"`
	ClearedAt    string  `json:"cleared_at"`
	Value        float64 `json:"value"`
	Limit        float64 `json:"limit"`
	Unit         string  `json:"unit"`
	Kind         string  `json:"kind"`
	HazardCode   string  `json:"hazard_code"`
	Equipment    string  `json:"equipment"`
	Acknowledged bool    `json:"acknowledged"`
	AckedBy      string  `json:"acked_by"`
	AckedAt      string  `json:"acked_at"`
	Cause        string  `json:"cause"`
	Measures     string  `json:"measures"`
	Shelved      bool    `json:"shelved"`
	ShelvedBy    string  `json:"shelved_by"`
	ShelvedUntil string  `json:"shelved_until"`
	ShelveReason string  `json:"shelve_reason"`
	Closed       bool    `json:"closed"`
	ClosedBy     string  `json:"closed_by"`
	ClosedAt     string  `json:"closed_at"`
}

func stamp(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}

func view(d store.Disposition, nowNs int64) alarm {
	a := alarm{ID: alarmID(d.AlarmKey), SiteID: d.SiteID, PointID: d.PointID, Condition: d.Condition,
		Priority: d.Priority, Active: d.Active, RaisedAt: stamp(d.RaisedNs), ClearedAt: stamp(d.ClearedNs),
		Value: d.Value, Limit: d.Limit, Unit: d.Unit, Kind: d.Kind, HazardCode: d.HazardCode, Equipment: d.Equipment,
		Acknowledged: d.Acknowledged(), AckedBy: d.AckedBy, AckedAt: stamp(d.AckedNs), Cause: d.Cause, Measures: d.Measures,
		Closed: d.Closed(), ClosedBy: d.ClosedBy, ClosedAt: stamp(d.ClosedNs)}
	if d.Shelved(nowNs) {
		a.Shelved, a.ShelvedBy, a.ShelvedUntil, a.ShelveReason = true, d.ShelvedBy, stamp(d.ShelveEnd), d.ShelveWhy
	}
	return a
}

// listAlarms lists the session's park's open alarms: not closed, and
// active or raised within the lookback.
func (s *Server) listAlarms(w http.ResponseWriter, r *http.Request, sess ctxSession) {
	now := s.now()
	ds, err := s.st.ParkAlarms(r.Context(), sess.park, now.Add(-s.cfg.Lookback).UnixNano(), listLimit)
	if err != nil {
		s.logger.Error("console: list alarms", "park", sess.park, "err", err)
		fail(w, http.StatusServiceUnavailable, "alarms unavailable")
		return
	}
	out := []alarm{}
	for _, d := range ds {
		if !d.Closed() {
			out = append(out, view(d, now.UnixNano()))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"park": sess.park, "alarms": out})
}
