package console_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/console"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
)

// auditRow is one row of alarm_actions as the tests check it.
type auditRow struct {
	site, action, user, park, cause, measures, reason, remote, id string
	atNs, untilNs                                                 int64
}

func (f *fixture) audit(t *testing.T) []auditRow {
	t.Helper()
	conn := chtest.Conn(t, f.st.Config().Addr, f.st.Config().Database)
	rows, err := conn.Query(context.Background(), "SELECT site_id, toString(action), user, park, cause, measures, reason, "+
		"remote_addr, action_id, at_ns, until_ns FROM alarm_actions ORDER BY at_ns")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		if err := rows.Scan(&r.site, &r.action, &r.user, &r.park, &r.cause, &r.measures, &r.reason, &r.remote, &r.id,
			&r.atNs, &r.untilNs); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// A park's operator acknowledges with cause and measures, shelves for a
// bounded time with a reason, unshelves and closes a cleared alarm; each
// action is a row of alarm_actions naming who, when and from where.
func TestAcknowledgeShelveClose(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	c.login("zhang")
	list := c.alarms()
	a, okA := find(list, "SA", "hh")
	cleared, okC := find(list, "SA", "comm_loss")
	if _, okB := find(list, "SB", "h"); !okA || !okC || okB || len(list) != 2 || a.Acknowledged || !a.Active {
		t.Fatalf("zhang's list: %+v", list)
	}
	post := func(action string, body map[string]any) int {
		return c.do(http.MethodPost, "/api/alarms/"+action, body, nil, nil)
	}
	start := time.Now().UnixNano()
	for _, step := range []struct {
		action string
		body   map[string]any
		want   int
	}{
		{"ack", map[string]any{"id": a.ID, "cause": "液位计漂移"}, http.StatusBadRequest}, // no measures
		{"ack", map[string]any{"id": a.ID, "cause": "液位计漂移", "measures": "现场校准"}, http.StatusOK},
		{"ack", map[string]any{"id": a.ID, "cause": "again", "measures": "again"}, http.StatusConflict},
		{"shelve", map[string]any{"id": a.ID, "reason": "检修", "minutes": 8*60 + 1}, http.StatusBadRequest},
		{"shelve", map[string]any{"id": a.ID, "minutes": 30}, http.StatusBadRequest}, // no reason
		{"shelve", map[string]any{"id": a.ID, "reason": "检修", "minutes": 30}, http.StatusOK},
		{"close", map[string]any{"id": a.ID, "cause": "x", "measures": "y"}, http.StatusConflict}, // still active
		{"ack", map[string]any{"id": "not-an-id", "cause": "x", "measures": "y"}, http.StatusBadRequest},
		{"delete", map[string]any{"id": a.ID}, http.StatusNotFound},
	} {
		if got := post(step.action, step.body); got != step.want {
			t.Fatalf("%s %v: %d, want %d", step.action, step.body, got, step.want)
		}
	}
	list = c.alarms()
	a, _ = find(list, "SA", "hh")
	if !a.Acknowledged || a.AckedBy != "zhang" || a.Cause != "液位计漂移" || a.Measures != "现场校准" ||
		!a.Shelved || a.ShelveReason != "检修" || a.ShelvedUntil == "" {
		t.Fatalf("after ack and shelve: %+v", a)
	}
	if got := post("unshelve", map[string]any{"id": a.ID}); got != http.StatusOK {
		t.Fatalf("unshelve: %d", got)
	}
	if got := post("unshelve", map[string]any{"id": a.ID}); got != http.StatusConflict {
		t.Fatalf("unshelve twice: %d", got)
	}
	if got := post("close", map[string]any{"id": cleared.ID, "cause": "交换机故障", "measures": "更换交换机"}); got != http.StatusOK {
		t.Fatalf("close cleared: %d", got)
	}
	list = c.alarms()
	if _, ok := find(list, "SA", "comm_loss"); ok || len(list) != 1 {
		t.Fatalf("a closed alarm is still listed: %+v", list)
	}
	if a, _ = find(list, "SA", "hh"); a.Shelved {
		t.Fatalf("unshelved alarm still shelved: %+v", a)
	}

	rows := f.audit(t)
	var actions []string
	for _, r := range rows {
		actions = append(actions, r.action)
		if r.site != "SA" || r.user != "zhang" || r.park != "园区A" || r.remote != "127.0.0.1" || len(r.id) != 32 ||
			r.atNs < start || r.atNs > time.Now().UnixNano() {
			t.Errorf("audit row %+v", r)
		}
	}
	if got := strings.Join(actions, ","); got != "ack,shelve,unshelve,close" {
		t.Fatalf("audited actions %s", got)
	}
	if s := rows[1]; s.reason != "检修" || s.untilNs-s.atNs != int64(30*time.Minute) {
		t.Fatalf("shelve row %+v", s)
	}
	if r := rows[0]; r.cause != "液位计漂移" || r.measures != "现场校准" {
		t.Fatalf("ack row %+v", r)
	}
	acked, err := f.st.Acknowledged(context.Background(), nil)
	if err != nil || len(acked) != 0 {
		t.Fatalf("Acknowledged of none: %v %v", acked, err)
	}
	acked, err = f.st.Acknowledged(context.Background(), []store.AlarmKey{f.alarmA, f.alarmB, f.clearedA})
	if err != nil || !acked[f.alarmA] || acked[f.alarmB] || !acked[f.clearedA] {
		t.Fatalf("Acknowledged: %v %v", acked, err)
	}
}

// A user of park B neither sees park A's alarm nor acts on it: the server
// answers as if it did not exist, whatever the page shows.
func TestOtherParkRefused(t *testing.T) {
	f := newFixture(t, nil)
	zhang, wang := f.client(t), f.client(t)
	zhang.login("zhang")
	wang.login("wang")
	a, _ := find(zhang.alarms(), "SA", "hh")
	list := wang.alarms()
	if _, ok := find(list, "SA", "hh"); ok || len(list) != 1 || list[0].SiteID != "SB" {
		t.Fatalf("wang's list: %+v", list)
	}
	for _, action := range []string{"ack", "shelve", "unshelve", "close", "comment"} {
		body := map[string]any{"id": a.ID, "cause": "c", "measures": "m", "reason": "r", "minutes": 5}
		if got := wang.do(http.MethodPost, "/api/alarms/"+action, body, nil, nil); got != http.StatusNotFound {
			t.Errorf("wang %s on park A's alarm: %d, want 404", action, got)
		}
	}
	if rows := f.audit(t); len(rows) != 0 {
		t.Fatalf("refused actions audited as done: %+v", rows)
	}
}

// State-changing requests need the session's CSRF token and the console's
// own origin; reads and the refused ones change nothing.
func TestCSRFRefused(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	c.login("zhang")
	a, _ := find(c.alarms(), "SA", "hh")
	body := map[string]any{"id": a.ID, "cause": "c", "measures": "m"}
	for name, h := range map[string]map[string]string{
		"no token":         {"X-CSRF-Token": ""},
		"wrong token":      {"X-CSRF-Token": strings.Repeat("0", 64)},
		"foreign origin":   {"Origin": "http://evil.example"},
		"cross-site fetch": {"Origin": "", "Sec-Fetch-Site": "cross-site"},
	} {
		if got := c.do(http.MethodPost, "/api/alarms/ack", body, nil, h); got != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, got)
		}
	}
	if got := c.do(http.MethodPost, "/api/logout", nil, nil, map[string]string{"X-CSRF-Token": ""}); got != http.StatusForbidden {
		t.Errorf("logout without token: %d", got)
	}
	other := f.client(t)
	if got := other.do(http.MethodPost, "/api/login", map[string]string{"user": "zhang", "password": password}, nil,
		map[string]string{"Origin": "http://evil.example"}); got != http.StatusForbidden {
		t.Errorf("cross-origin login: %d", got)
	}
	if rows := f.audit(t); len(rows) != 0 {
		t.Fatalf("refused requests audited: %+v", rows)
	}
	if got := c.do(http.MethodPost, "/api/alarms/ack", body, nil, nil); got != http.StatusOK {
		t.Fatalf("with token and origin: %d", got)
	}
	if got := c.do(http.MethodPost, "/api/logout", nil, nil, nil); got != http.StatusOK {
		t.Fatalf("logout: %d", got)
	}
	if got := c.do(http.MethodGet, "/api/alarms", nil, nil, nil); got != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", got)
	}
}

// Without a session nothing is listed; a wrong password is no login.
func TestLoginRequired(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	if got := c.do(http.MethodGet, "/api/alarms", nil, nil, nil); got != http.StatusUnauthorized {
		t.Fatalf("list without login: %d", got)
	}
	for _, u := range [][2]string{{"zhang", "wrong-pw"}, {"nobody", password}} {
		if got := c.do(http.MethodPost, "/api/login", map[string]string{"user": u[0], "password": u[1]}, nil, nil); got != http.StatusUnauthorized {
			t.Fatalf("login %s/%s: %d", u[0], u[1], got)
		}
	}
	// Five wrong passwords lock the name out, even for the right one.
	for range 4 {
		c.do(http.MethodPost, "/api/login", map[string]string{"user": "li", "password": "guess"}, nil, nil)
	}
	if got := c.do(http.MethodPost, "/api/login", map[string]string{"user": "li", "password": password}, nil, nil); got != http.StatusOK {
		t.Fatalf("login after 4 wrong passwords: %d", got)
	}
	for range 5 {
		c.do(http.MethodPost, "/api/login", map[string]string{"user": "li", "password": "guess"}, nil, nil)
	}
	if got := c.do(http.MethodPost, "/api/login", map[string]string{"user": "li", "password": password}, nil, nil); got != http.StatusTooManyRequests {
		t.Fatalf("login after 5 wrong passwords: %d, want 429", got)
	}
	res, err := http.Get(f.base + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("page: %d %v", res.StatusCode, res.Header)
	}
}

// Behind a trusted proxy the header names the user; from anyone else the
// same header is ignored.
func TestProxyUser(t *testing.T) {
	trusted := newFixture(t, func(c *console.Config) {
		c.Proxy = console.Proxy{UserHeader: "X-Remote-User", Trusted: []string{"127.0.0.0/8"}}
	})
	c := trusted.client(t)
	var s struct{ User, Park, CSRF string }
	if got := c.do(http.MethodGet, "/api/session", nil, &s, map[string]string{"X-Remote-User": "wang"}); got != http.StatusOK ||
		s.User != "wang" || s.Park != "园区B" {
		t.Fatalf("proxy session: %d %+v", got, s)
	}
	c.csrf = s.CSRF
	// The session is the proxied user's only while the proxy names him.
	if got := c.do(http.MethodGet, "/api/alarms", nil, nil, map[string]string{"X-Remote-User": "zhang"}); got != http.StatusUnauthorized {
		t.Fatalf("session of wang with header zhang: %d", got)
	}
	if got := c.do(http.MethodGet, "/api/alarms", nil, nil, map[string]string{"X-Remote-User": "wang"}); got != http.StatusOK {
		t.Fatalf("session of wang: %d", got)
	}
	if got := c.do(http.MethodGet, "/api/session", nil, nil, map[string]string{"X-Remote-User": "stranger"}); got != http.StatusForbidden {
		t.Fatalf("user not in the users file: %d", got)
	}

	untrusted := newFixture(t, func(c *console.Config) {
		c.Proxy = console.Proxy{UserHeader: "X-Remote-User", Trusted: []string{"10.0.0.1"}}
	})
	var none struct {
		LoggedIn bool `json:"logged_in"`
	}
	if got := untrusted.client(t).do(http.MethodGet, "/api/session", nil, &none, map[string]string{"X-Remote-User": "wang"}); got != http.StatusOK || none.LoggedIn {
		t.Fatalf("header from an untrusted address: %d, logged in %v", got, none.LoggedIn)
	}
}
