package forward_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChild())
	}
	chtest.Main(m)
}

const (
	site      = "plant-a"
	entCode   = "91320500MA1TEST01X"
	templates = "../../packaging/config/forward"
)

// mapped points have a province code; unmapped has none and must never
// be sent.
var (
	mapped   = []string{"T101.LT", "T102.LT", "P201.PT", "G301.GT"}
	unmapped = "T999.LT"
)

func pointCode(p string) string { return "3205LT" + strings.ReplaceAll(p, ".", "") }

func f(v float64) *float64 { return &v }

// seedRegistry writes the site's enterprise, hazard source, equipment,
// points and codes.
func seedRegistry(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	if err := st.SaveRegistry(ctx, []store.Enterprise{{SiteID: site, Name: "示例化工有限公司", Park: "park-1"}},
		[]store.HazardSource{{SiteID: site, Code: "MH-01", Name: "甲醇罐区", Level: 3, UnitType: "tank_farm"}},
		[]store.Equipment{{SiteID: site, Name: "T101", Type: "tank", Medium: "甲醇", HazardCode: "MH-01"}}, nil); err != nil {
		t.Fatal(err)
	}
	var pts []*lifelinev1.Point
	for _, p := range append(append([]string{}, mapped...), unmapped) {
		pts = append(pts, &lifelinev1.Point{Id: p, Name: "储罐" + p, Unit: "m", Kind: "level", RangeLow: f(0), RangeHigh: f(20),
			Limits:       &lifelinev1.Limits{High: f(15), HighHigh: f(18)},
			HazardSource: &lifelinev1.HazardSource{Code: "MH-01", Name: "甲醇罐区", Level: 3}, Equipment: "T101",
			NodeId: "nsu=urn:x;s=" + p, Endpoint: "opc.tcp://127.0.0.1:4840"})
	}
	if err := st.SaveCatalog(ctx, site, "park-1", "test", pts); err != nil {
		t.Fatal(err)
	}
	codes := []store.ForwardCode{
		{Target: "province", Kind: forward.CodeEnterprise, LocalID: site, Code: entCode, Name: "示例化工有限公司"},
		{Target: "province", Kind: forward.CodeHazard, LocalID: site + "/MH-01", Code: "320500000001"},
	}
	for _, p := range mapped {
		codes = append(codes, store.ForwardCode{Target: "province", Kind: forward.CodePoint, LocalID: site + "/" + p, Code: pointCode(p)})
	}
	if err := st.SaveForwardCodes(ctx, codes); err != nil {
		t.Fatal(err)
	}
}

var seq atomic.Uint64

// insertValues stores one sample per point (mapped and not) for each of
// n periods from start, 100 ms into the period, and returns the value of
// each mapped point by period start.
func insertValues(t *testing.T, st *store.Store, start time.Time, n int, period time.Duration) map[valueID]float64 {
	t.Helper()
	want := map[valueID]float64{}
	b := &store.Batch{SiteID: site, BufferID: "buf", Seq: seq.Add(1)}
	for i := range n {
		p0 := start.Add(time.Duration(i) * period)
		ts := p0.Add(100 * time.Millisecond)
		for j, p := range append(append([]string{}, mapped...), unmapped) {
			v := float64(i*10+j) + 0.25
			b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: p, SourceTimeNs: ts.UnixNano(), ServerTimeNs: ts.UnixNano(),
				ReceiveTimeNs: ts.UnixNano(), Value: &lifelinev1.Sample_Number{Number: v}})
			if p != unmapped {
				want[valueID{pointCode(p), p0.UnixNano()}] = v
			}
		}
	}
	if err := st.Insert(context.Background(), []*store.Batch{b}); err != nil {
		t.Fatal(err)
	}
	return want
}

// valueID is a point code and the start of a period.
type valueID struct {
	code   string
	period int64
}

// receiver is a provincial platform: it records what it accepts, and can
// be down (503, or connections closed unanswered).
type receiver struct {
	srv  *httptest.Server
	mode atomic.Int32 // 0 up, 1 answers 503, 2 closes connections
	// accepted, when set, runs after a real-time message is recorded and
	// before it is answered.
	accepted atomic.Pointer[func()]
	// failBase, when set, answers the base data message with that number
	// (from 1) 503; acceptedBase, when set, runs after one is recorded.
	failBase     atomic.Int32
	acceptedBase atomic.Pointer[func()]

	mu     sync.Mutex
	values []received          // accepted real-time values in arrival order
	alarms map[string][]string // alarm dataId → "start"/"end" payload status
	bases  []map[string]any
	beats  int
	tries  int32 // base data messages received, answered or not
}

type received struct {
	key, code  string
	period     int64 // collectTime of the message
	value      float64
	dataTime   string
	acceptedAt time.Time
}

const (
	up = iota
	unavailable
	closing
	refusing // 422: refused for good
)

func newReceiver(t *testing.T, clientCA *x509.CertPool) *receiver {
	r := &receiver{alarms: map[string][]string{}}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	if clientCA != nil {
		r.srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCA}
	}
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	switch r.mode.Load() {
	case unavailable:
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
		return
	case refusing:
		http.Error(w, "quotaId not registered", http.StatusUnprocessableEntity)
		return
	case closing:
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
	}
	body, _ := io.ReadAll(req.Body)
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, "bad json: "+err.Error(), http.StatusBadRequest)
		return
	}
	if m["companyCode"] != entCode {
		http.Error(w, "unknown company", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case strings.HasPrefix(req.URL.Path, "/realtime/"):
		period, _ := time.ParseInLocation("2006-01-02 15:04:05", m["collectTime"].(string), shanghai)
		for _, d := range m["datas"].([]any) {
			d := d.(map[string]any)
			r.values = append(r.values, received{key: d["dataId"].(string), code: d["quotaId"].(string), period: period.UnixNano(),
				value: d["value"].(float64), dataTime: d["dataTime"].(string), acceptedAt: time.Now()})
		}
		if f := r.accepted.Load(); f != nil {
			r.mu.Unlock()
			(*f)()
			r.mu.Lock()
		}
	case strings.HasPrefix(req.URL.Path, "/alarm/"):
		r.alarms[m["dataId"].(string)] = append(r.alarms[m["dataId"].(string)], fmt.Sprint(m["alarmStatus"], "/", m["quotaId"], "/", m["alarmType"]))
	case strings.HasPrefix(req.URL.Path, "/base/"):
		r.tries++
		if r.tries == r.failBase.Load() {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		r.bases = append(r.bases, m)
		if f := r.acceptedBase.Load(); f != nil {
			(*f)()
		}
	case strings.HasPrefix(req.URL.Path, "/heartbeat/"):
		r.beats++
	}
	w.WriteHeader(http.StatusOK)
}

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// snapshot returns what was accepted so far.
func (r *receiver) snapshot() ([]received, map[string][]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	alarms := map[string][]string{}
	for k, v := range r.alarms {
		alarms[k] = append([]string(nil), v...)
	}
	return append([]received(nil), r.values...), alarms
}

// distinct counts accepted values by (code, period).
func distinct(vals []received) map[valueID][]received {
	out := map[valueID][]received{}
	for _, v := range vals {
		id := valueID{v.code, v.period}
		out[id] = append(out[id], v)
	}
	return out
}

// target is a https target of r with the shipped templates.
func (r *receiver) target(t *testing.T, dir string) forward.Target {
	caFile := filepath.Join(dir, "platform-ca.pem")
	writePEM(t, caFile, "CERTIFICATE", r.srv.Certificate().Raw)
	base := r.srv.URL
	return forward.Target{
		Name: "province", Transport: "https", TLS: forward.TLS{CAFile: caFile}, Templates: templates,
		Dest: map[string]string{
			forward.KindBase:      base + "/base/{{.Enterprise.Code}}",
			forward.KindRealtime:  base + "/realtime/{{.Enterprise.Code}}",
			forward.KindAlarm:     base + "/alarm/{{.Enterprise.Code}}",
			forward.KindHeartbeat: base + "/heartbeat/{{.Enterprise.Code}}",
		},
		Period: time.Second, Delay: 300 * time.Millisecond, BacklogRate: 50, Timeout: 3 * time.Second,
		HeartbeatEvery: time.Second,
	}
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// clientCert makes a self-signed client certificate in dir and returns
// the pool that trusts it.
func clientCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "plant-a gateway"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", kder)
	return certFile, keyFile, pool
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// missing lists the wanted values not accepted, sorted.
func missing(want map[valueID]float64, got map[valueID][]received) []string {
	var out []string
	for id := range want {
		if len(got[id]) == 0 {
			out = append(out, fmt.Sprintf("%s@%s", id.code, time.Unix(0, id.period).UTC().Format(time.TimeOnly)))
		}
	}
	sort.Strings(out)
	return out
}
