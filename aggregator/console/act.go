package console

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// actRequest is the body of POST /api/alarms/{action}.
type actRequest struct {
	ID       string `json:"id"`
	Cause    string `json:"cause"`
	Measures string `json:"measures"`
	Reason   string `json:"reason"`
	Minutes  int64  `json:"minutes"` // shelve only
}

// errConflict marks an action the alarm's state does not allow.
var errConflict = errors.New("conflict")

func conflict(msg string) error { return fmt.Errorf("%w: %s", errConflict, msg) }

// act records an action on an alarm of the session's park. An alarm of
// another park is answered as unknown: its existence is not disclosed.
func (s *Server) act(w http.ResponseWriter, r *http.Request, sess ctxSession) {
	action := r.PathValue("action")
	switch action {
	case store.ActionAck, store.ActionShelve, store.ActionUnshelve, store.ActionClose, store.ActionComment:
	default:
		fail(w, http.StatusNotFound, "unknown action")
		return
	}
	var req actRequest
	if !decode(w, r, &req) {
		return
	}
	req.Cause, req.Measures, req.Reason = strings.TrimSpace(req.Cause), strings.TrimSpace(req.Measures), strings.TrimSpace(req.Reason)
	key, err := parseAlarmID(req.ID)
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	d, ok, err := s.st.ParkAlarm(r.Context(), sess.park, key)
	if err != nil {
		s.logger.Error("console: read alarm", "park", sess.park, "err", err)
		fail(w, http.StatusServiceUnavailable, "alarms unavailable")
		return
	}
	if !ok {
		s.logger.Warn("console: action on an alarm not of the user's park refused", "user", sess.user, "park", sess.park,
			"site", key.SiteID, "action", action, "remote", s.clientAddr(r))
		fail(w, http.StatusNotFound, "no such alarm in your park")
		return
	}
	now := s.now()
	a := store.AlarmAction{Key: key, Action: action, AtNs: now.UnixNano(), User: sess.user, Park: sess.park,
		Cause: req.Cause, Measures: req.Measures, Reason: req.Reason, RemoteAddr: s.clientAddr(r), ActionID: token()[:32]}
	if err := s.check(&a, d, req, now); err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, errConflict) {
			code = http.StatusConflict
		}
		fail(w, code, strings.TrimPrefix(err.Error(), "conflict: "))
		return
	}
	if err := s.st.SaveAlarmAction(r.Context(), a); err != nil {
		s.logger.Error("console: save alarm action", "park", sess.park, "err", err)
		fail(w, http.StatusServiceUnavailable, "action not saved")
		return
	}
	s.logger.Info("alarm "+action, "user", sess.user, "park", sess.park, "site", key.SiteID, "point", key.PointID,
		"condition", key.Condition, "raised_ns", key.RaisedNs, "cause", a.Cause, "measures", a.Measures,
		"reason", a.Reason, "until_ns", a.UntilNs, "remote", a.RemoteAddr, "action_id", a.ActionID)
	d, _, err = s.st.ParkAlarm(r.Context(), sess.park, key)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	writeJSON(w, http.StatusOK, view(d, now.UnixNano()))
}

// check validates an action against the request and the alarm's state,
// completing a (a shelve's end).
func (s *Server) check(a *store.AlarmAction, d store.Disposition, req actRequest, now time.Time) error {
	for _, f := range []struct {
		name, v  string
		required bool
	}{
		{"cause", req.Cause, a.Action == store.ActionAck || a.Action == store.ActionClose && d.Cause == ""},
		{"measures", req.Measures, a.Action == store.ActionAck || a.Action == store.ActionClose && d.Measures == ""},
		{"reason", req.Reason, a.Action == store.ActionShelve || a.Action == store.ActionComment},
	} {
		if err := text(f.name, f.v, f.required); err != nil {
			return err
		}
	}
	switch {
	case d.Closed():
		return conflict("the alarm is closed")
	case a.Action == store.ActionAck && d.Acknowledged():
		return conflict("the alarm is acknowledged already by " + d.AckedBy)
	case a.Action == store.ActionUnshelve && !d.Shelved(now.UnixNano()):
		return conflict("the alarm is not shelved")
	case a.Action == store.ActionClose && d.Active:
		return conflict("the alarm is still active; it can be closed once it has cleared")
	case a.Action == store.ActionShelve:
		dur := time.Duration(req.Minutes) * time.Minute
		if req.Minutes <= 0 || dur > s.cfg.MaxShelve {
			return errors.New("minutes: want 1 to " + s.cfg.MaxShelve.String())
		}
		a.UntilNs = now.Add(dur).UnixNano()
	}
	return nil
}
