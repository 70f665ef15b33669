package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/lifeline-telemetry/lifeline/aggregator/console"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// fixture is a console on loopback over a store holding one active alarm
// in each of two parks: site SA of park 园区A, site SB of park 园区B.
type fixture struct {
	st       *store.Store
	srv      *console.Server
	base     string
	alarmA   store.AlarmKey
	alarmB   store.AlarmKey
	clearedA store.AlarmKey
}

// Users: zhang and li of 园区A, wang of 园区B, all with password "secret-pw".
const password = "secret-pw"

func newFixture(t *testing.T, edit func(*console.Config)) *fixture {
	t.Helper()
	st := storetest.Open(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.SaveCatalog(ctx, "SA", "园区A", "test", nil))
	must(st.SaveCatalog(ctx, "SB", "园区B", "test", nil))
	now := time.Now().UnixNano()
	f := &fixture{st: st,
		alarmA:   store.AlarmKey{SiteID: "SA", PointID: "T101.LT", Condition: "hh", RaisedNs: now - int64(time.Minute)},
		alarmB:   store.AlarmKey{SiteID: "SB", PointID: "P201.PT", Condition: "h", RaisedNs: now - int64(2*time.Minute)},
		clearedA: store.AlarmKey{SiteID: "SA", PointID: "", Condition: "comm_loss", RaisedNs: now - int64(time.Hour)},
	}
	must(st.SaveAlarmEvents(ctx, []store.AlarmEvent{
		{SiteID: "SA", PointID: "T101.LT", Condition: "hh", Priority: 1, Active: true, RaisedNs: f.alarmA.RaisedNs, Value: 9.5, Unit: "m"},
		{SiteID: "SB", PointID: "P201.PT", Condition: "h", Priority: 2, Active: true, RaisedNs: f.alarmB.RaisedNs, Value: 1.2, Unit: "MPa"},
		{SiteID: "SA", Condition: "comm_loss", Priority: 2, RaisedNs: f.clearedA.RaisedNs, ClearedNs: f.clearedA.RaisedNs + int64(time.Minute)},
	}))

	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	must(err)
	users := filepath.Join(t.TempDir(), "users.yaml")
	must(os.WriteFile(users, []byte("parks:\n  园区A:\n    - name: zhang\n      password_hash: \""+string(hash)+"\"\n"+
		"    - name: li\n      password_hash: \""+string(hash)+"\"\n"+
		"  园区B:\n    - name: wang\n      password_hash: \""+string(hash)+"\"\n"), 0o600))
	cfg := console.DefaultConfig()
	cfg.Listen, cfg.UsersFile = "127.0.0.1:0", users
	if edit != nil {
		edit(&cfg)
	}
	f.srv = console.New(cfg, st, slog.New(slog.DiscardHandler))
	must(f.srv.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := f.srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	f.base = "http://" + f.srv.Addr()
	return f
}

// client is one browser-like user agent: a cookie jar and the CSRF token
// of its login.
type client struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func (f *fixture) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	c := &client{t: t, base: f.base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

// do sends a request with the client's CSRF token (unless noCSRF) and the
// console's own Origin, decoding the JSON answer into out when not nil.
func (c *client) do(method, path string, body any, out any, headers map[string]string) int {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", c.base)
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode == http.StatusOK {
		if err := json.Unmarshal(data, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return res.StatusCode
}

func (c *client) login(user string) {
	c.t.Helper()
	var s struct{ CSRF, Park string }
	if code := c.do(http.MethodPost, "/api/login", map[string]string{"user": user, "password": password}, &s, nil); code != http.StatusOK {
		c.t.Fatalf("login %s: %d", user, code)
	}
	c.csrf = s.CSRF
}

// apiAlarm is the part of an alarm the tests look at.
type apiAlarm struct {
	ID, SiteID, PointID, Condition string
	Active, Acknowledged, Shelved  bool
	AckedBy, Cause, Measures       string
	ShelvedUntil, ShelveReason     string
	Closed                         bool
}

func (c *client) alarms() []apiAlarm {
	c.t.Helper()
	var raw struct {
		Alarms []map[string]any `json:"alarms"`
	}
	if code := c.do(http.MethodGet, "/api/alarms", nil, &raw, nil); code != http.StatusOK {
		c.t.Fatalf("list alarms: %d", code)
	}
	var out []apiAlarm
	for _, m := range raw.Alarms {
		s := func(k string) string { v, _ := m[k].(string); return v }
		b := func(k string) bool { v, _ := m[k].(bool); return v }
		out = append(out, apiAlarm{ID: s("id"), SiteID: s("site_id"), PointID: s("point_id"), Condition: s("condition"),
			Active: b("active"), Acknowledged: b("acknowledged"), Shelved: b("shelved"), AckedBy: s("acked_by"),
			Cause: s("cause"), Measures: s("measures"), ShelvedUntil: s("shelved_until"), ShelveReason: s("shelve_reason"),
			Closed: b("closed")})
	}
	return out
}

func find(list []apiAlarm, site, condition string) (apiAlarm, bool) {
	for _, a := range list {
		if a.SiteID == site && a.Condition == condition {
			return a, true
		}
	}
	return apiAlarm{}, false
}
