package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fixed is a Snapshotter that returns one document and keeps the filter
// it was asked with.
type fixed struct {
	st   Status
	last Filter
}

func (f *fixed) StatusSnapshot(fl Filter) Status { f.last = fl; return f.st }

func sampleStatus() Status {
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	return Status{
		Now: at, Site: Site{ID: "S01", Name: "示例化工有限公司", Park: "示例化工园区"},
		Backlog: Backlog{Batches: 3, Bytes: 4096, Samples: 120, RatePerSecond: 40, ETASeconds: 3},
		Sources: []Source{{Name: "dcs", Endpoint: "opc.tcp://10.0.0.5:4840", State: StateConnected, PointsTotal: 2, PointsMatched: 2,
			Points: []Point{
				{ID: "T101.LT", Name: "1号甲醇储罐液位", Description: "1号储罐雷达液位计（量程 0–20 m）", Unit: "m",
					HazardSource: "HS-01", HazardName: "甲醇罐区", Value: JSONValue(12.5), Quality: "Good", SourceTime: &at, Received: &at},
				{ID: "T101.TT", Value: JSONValue(math.NaN()), Quality: "BadSensorFailure", Status: 0x808D0000},
			}}},
		Gaps: []Gap{{Reason: "source_unavailable", From: at, To: at.Add(time.Minute), Points: 2}},
	}
}

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if req.Host == "example.com" { // httptest's default
		req.Host = "127.0.0.1:9480"
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Result()
}

func TestStatusJSON(t *testing.T) {
	snap := &fixed{st: sampleStatus()}
	h := New(config.StatusPage{Listen: "127.0.0.1:0"}, snap, nil).Handler()
	resp := get(t, h, http.MethodGet, "/api/status?q=%E7%94%B2%E9%86%87&limit=99999", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	if snap.last.Query != "甲醇" || snap.last.Limit != maxLimit {
		t.Errorf("filter %+v: want the query decoded and the limit capped at %d", snap.last, maxLimit)
	}
	var raw map[string]any
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	var back Status
	if err := json.Unmarshal(body, &back); err != nil {
		t.Fatal(err)
	}
	p := back.Sources[0].Points
	if back.Site.Name != "示例化工有限公司" || p[0].Name != "1号甲醇储罐液位" || p[0].Description != "1号储罐雷达液位计（量程 0–20 m）" || p[0].HazardName != "甲醇罐区" {
		t.Errorf("Chinese text did not round-trip: %+v %+v", back.Site, p[0])
	}
	if p[0].Value != 12.5 || p[1].Value != "NaN" || p[1].Status != 0x808D0000 {
		t.Errorf("values %v %v status %x", p[0].Value, p[1].Value, p[1].Status)
	}
	for _, key := range []string{`"oldest_age_seconds"`, `"eta_seconds":3`, `"points_matched":2`, `"source_time"`, `"reason":"source_unavailable"`} {
		if !strings.Contains(string(body), key) {
			t.Errorf("document lacks %s:\n%s", key, body)
		}
	}
	if strings.Count(string(body), `"source_time"`) != 1 {
		t.Errorf("a point without samples carries a source time")
	}

	snap.st.Sources[0].Points[0].Value = JSONValue(math.Inf(-1))
	resp = get(t, h, http.MethodGet, "/api/status?limit=-1", nil)
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"value":"-Inf"`) || snap.last.Limit != defaultLimit {
		t.Errorf("%s limit %d: %s", resp.Status, snap.last.Limit, body)
	}
}

// The page is read-only and self-contained, and answers only to this
// machine's names unless it is meant for the network.
func TestReadOnlyAndSafeHeaders(t *testing.T) {
	h := New(config.StatusPage{Listen: "127.0.0.1:0"}, &fixed{st: sampleStatus()}, nil).Handler()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		resp := get(t, h, m, "/api/status", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %s allow %q", m, resp.Status, resp.Header.Get("Allow"))
		}
	}
	for _, path := range []string{"/", "/api/status", "/static/app.js", "/static/style.css"} {
		resp := get(t, h, http.MethodGet, path, nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", path, resp.Status)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v", path, resp.Header)
		}
	}
	if resp := get(t, h, http.MethodGet, "/nothing", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/nothing: %s", resp.Status)
	}
	for host, want := range map[string]int{"localhost:9480": 200, "[::1]:9480": 200, "attacker.example:9480": 421, "192.168.1.5:9480": 421} {
		req := httptest.NewRequest(http.MethodGet, "/api/status", nil)
		req.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Host %s: %d, want %d", host, w.Code, want)
		}
	}
	remote := New(config.StatusPage{Listen: "0.0.0.0:0", AllowRemote: true}, &fixed{st: sampleStatus()}, nil).Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/status", nil)
	req.Host = "192.168.1.5:9480"
	w := httptest.NewRecorder()
	remote.ServeHTTP(w, req)
	if w.Code != http.StatusOK {
		t.Errorf("allow_remote, Host 192.168.1.5: %d", w.Code)
	}
}

// The embedded assets load nothing from elsewhere and run no inline
// script (the CSP would refuse it).
func TestAssetsSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := fs.ReadFile(assets, path)
		// An XML namespace is a name, not a request.
		data = bytes.ReplaceAll(data, []byte(`xmlns="http://www.w3.org/2000/svg"`), nil)
		if m := external.Find(data); m != nil {
			t.Errorf("%s refers to %s", path, m)
		}
		if strings.HasSuffix(path, ".html") && (regexp.MustCompile(`<script>|<script [^>]*>[^<]`).Match(data) || strings.Contains(string(data), "style=")) {
			t.Errorf("%s has inline script or style", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLanguage(t *testing.T) {
	tests := []struct{ target, accept, want string }{
		{"/", "", "zh"},
		{"/", "zh-CN,zh;q=0.9,en;q=0.8", "zh"},
		{"/", "en-US,en;q=0.9", "en"},
		{"/", "fr-FR,en;q=0.5,zh;q=0.4", "en"},
		{"/", "fr-FR", "zh"},
		{"/?lang=en", "zh-CN", "en"},
		{"/?lang=zh", "en-US", "zh"},
		{"/?lang=xx", "en", "en"},
	}
	h := New(config.StatusPage{Listen: "127.0.0.1:0"}, &fixed{}, nil).Handler()
	for _, tt := range tests {
		resp := get(t, h, http.MethodGet, tt.target, map[string]string{"Accept-Language": tt.accept})
		body, _ := io.ReadAll(resp.Body)
		if want := `<html lang="` + tt.want + `">`; !strings.Contains(string(body), want) {
			t.Errorf("%s Accept-Language %q: want %s", tt.target, tt.accept, want)
		}
	}
}

func TestServerStartShutdown(t *testing.T) {
	s := New(config.StatusPage{Listen: "127.0.0.1:0"}, &fixed{st: sampleStatus()}, nil)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown before start: %v", err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s", resp.Status)
	}
	taken := New(config.StatusPage{Listen: s.Addr()}, &fixed{}, nil)
	if err := taken.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "status page listen") {
		t.Errorf("second server on %s: %v", s.Addr(), err)
	}
	for range 2 {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	off := New(config.StatusPage{}, &fixed{}, nil)
	if err := off.Start(context.Background()); err != nil || off.Addr() != "" {
		t.Errorf("empty listen: %v %q", err, off.Addr())
	}
}
