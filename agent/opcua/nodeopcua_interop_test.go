package opcua

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/pki"
)

func nodeSource(endpoint string) config.Source {
	s := config.Source{
		Name:               "node-opcua",
		Endpoint:           endpoint,
		PublishingInterval: config.Duration(100 * time.Millisecond),
		SamplingInterval:   config.Duration(50 * time.Millisecond),
		ReconnectMin:       config.Duration(200 * time.Millisecond),
		ReconnectMax:       config.Duration(time.Second),
		Points: []config.Point{
			{ID: "T1.LT", Node: "nsu=" + nodeNS + ";s=Plant.Tank1.Level"},
			{ID: "T1.NAME", Node: "nsu=" + nodeNS + ";s=Plant.Tank1.Name"},
			{ID: "T1.LAHH", Node: "nsu=" + nodeNS + ";s=Plant.Tank1.HighAlarm"},
			{ID: "BROKEN", Node: "nsu=" + nodeNS + ";s=Plant.Broken"},
			{ID: "MISSING", Node: "nsu=" + nodeNS + ";s=Plant.NoSuchNode"},
		},
	}
	config.SourceDefaults(&s)
	return s
}

// interop checks browse, read and subscribe against node-opcua with src's
// security settings.
func interop(t *testing.T, src config.Source) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	vars, err := Browse(ctx, src, BrowseOptions{})
	if err != nil {
		t.Fatalf("browse: %v", err)
	}
	var level *Variable
	for i := range vars {
		if vars[i].Node == src.Points[0].Node {
			level = &vars[i]
		}
	}
	if level == nil {
		t.Fatalf("browse did not find %s among %d variables: %+v", src.Points[0].Node, len(vars), vars)
	}
	if level.Path != "Plant/Tank1/Level" || level.DataType != "Double" || level.Unit != "m" || level.Range == nil || *level.Range != (config.Range{Low: 0, High: 20}) {
		t.Errorf("browsed Level: %+v (range %v)", *level, level.Range)
	}

	reports, err := Check(ctx, src)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	want := map[string]string{"T1.LT": "Good", "T1.NAME": "Good", "T1.LAHH": "Good", "BROKEN": "BadSensorFailure", "MISSING": "BadNodeIdUnknown"}
	for _, r := range reports {
		if r.Status != want[r.PointID] {
			t.Errorf("check %s: status %q, want %q (%v)", r.PointID, r.Status, want[r.PointID], r.Err)
		}
		if r.PointID == "T1.NAME" && r.Value != "1号甲醇储罐" {
			t.Errorf("Chinese text: %q", r.Value)
		}
	}

	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	stop := running(t, r)
	waitFor(t, "level changes from node-opcua", 20*time.Second, func() bool {
		return len(rec.samples(time.Time{})["T1.LT"]) >= 10
	})
	stop()
	got := rec.samples(time.Time{})
	if st := r.Stats(); st.BadItems != 1 || st.Received == 0 {
		t.Errorf("stats: %+v, want 1 refused item (MISSING)", st)
	}
	prev := int64(0)
	for _, s := range got["T1.LT"] {
		if s.Status != 0 || s.SourceTimeNs <= prev || s.ServerTimeNs == 0 {
			t.Errorf("level sample: status %#x source %d (previous %d) server %d", s.Status, s.SourceTimeNs, prev, s.ServerTimeNs)
		}
		prev = s.SourceTimeNs
		if v := s.GetNumber(); v < 5 || v > 15 {
			t.Errorf("level value %g", v)
		}
	}
	if b := got["BROKEN"]; len(b) == 0 || b[0].Status != uint32(ua.StatusBadSensorFailure) {
		t.Errorf("BROKEN samples %v, want its BadSensorFailure status carried", b)
	}
	if n := got["T1.NAME"]; len(n) == 0 || n[0].GetText() != "1号甲醇储罐" {
		t.Errorf("name samples: %v", n)
	}
}

func TestNodeOPCUAInteropNone(t *testing.T) {
	t.Parallel()
	ns := startNodeServer(t)
	interop(t, nodeSource(ns.endpoint))
}

// Basic256Sha256 SignAndEncrypt with a username, both certificates trusted
// the way an operator does it: the server's administrator trusts the
// agent's certificate, the agent's operator runs certs trust on the file
// the agent saved in rejected/.
func TestNodeOPCUAInteropBasic256Sha256(t *testing.T) {
	t.Parallel()
	agentDir, agent := newIdentity(t, "urn:test:lifeline-agent")
	ns := startNodeServer(t, agent.Cert)
	src := nodeSource(ns.endpoint)
	src.PKIDir = agentDir.Root
	src.SecurityPolicy, src.SecurityMode = "Basic256Sha256", "SignAndEncrypt"
	src.Auth, src.Username, src.Password = "username", "operator", "s3cret"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	_, err := Check(ctx, src)
	var ue *pki.UntrustedError
	if !errors.As(err, &ue) {
		t.Fatalf("first connect: %v, want the server's certificate rejected", err)
	}
	if _, err := agentDir.Trust(ue.Path); err != nil {
		t.Fatal(err)
	}
	// The saved certificate is the one node-opcua serves.
	der, _, err := pki.ParseCertFile(ns.certFile)
	if err != nil || pki.Thumbprint(der) != ue.Thumbprint {
		t.Fatalf("rejected certificate %s is not the server's (%v)", ue.Thumbprint, err)
	}

	interop(t, src)

	bad := src
	bad.Password = "wrong"
	if _, err := Check(ctx, bad); err == nil {
		t.Error("node-opcua accepted a wrong password")
	} else {
		t.Logf("wrong password: %v", err)
	}

	// An agent the server does not trust is refused by the server.
	strangerDir, _ := newIdentity(t, "urn:test:stranger")
	if _, err := strangerDir.Trust(ns.certFile); err != nil {
		t.Fatal(err)
	}
	stranger := src
	stranger.PKIDir = strangerDir.Root
	// The agent says it is its own certificate the server refused, and
	// where the server keeps it.
	_, err = Check(ctx, stranger)
	var refused *CertRefusedError
	if !errors.As(err, &refused) || !errors.Is(err, ua.StatusBadSecurityChecksFailed) {
		t.Fatalf("untrusted agent: %v, want *CertRefusedError", err)
	}
	own, _ := strangerDir.LoadOwn()
	for _, want := range []string{"refused the agent's application instance certificate", strangerDir.OwnCertPath(),
		pki.Thumbprint(own.Cert), "rejected-certificates folder", "trusted list"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("untrusted agent: %q does not say %q", err, want)
		}
	}
	t.Logf("untrusted agent: %v", err)
}

// node-opcua applies data change filters (gopcua's server ignores them):
// with an absolute deadband of 0.45 on a level that moves 0.1 every 100 ms
// only changes of more than 0.45 are reported; a percent deadband of 3 %
// of the EURange 0..20 is 0.6.
func TestNodeOPCUADeadband(t *testing.T) {
	t.Parallel()
	ns := startNodeServer(t)
	src := nodeSource(ns.endpoint)
	src.Points = []config.Point{
		{ID: "ABS", Node: src.Points[0].Node, Deadband: &config.DataDeadband{Type: "absolute", Value: 0.45}},
		{ID: "PCT", Node: src.Points[0].Node, Deadband: &config.DataDeadband{Type: "percent", Value: 3}},
		{ID: "ALL", Node: src.Points[0].Node},
	}
	rec := &recorder{}
	r := New(src, rec, testLogger(t))
	stop := running(t, r)
	waitFor(t, "level changes", 20*time.Second, func() bool { return len(rec.samples(time.Time{})["ALL"]) >= 30 })
	stop()
	got := rec.samples(time.Time{})
	for id, min := range map[string]float64{"ABS": 0.45, "PCT": 0.6} {
		ss := got[id]
		if len(ss) < 2 || len(ss) > len(got["ALL"])/2 {
			t.Errorf("%s: %d samples against %d unfiltered", id, len(ss), len(got["ALL"]))
		}
		for i := 1; i < len(ss); i++ {
			d := ss[i].GetNumber() - ss[i-1].GetNumber()
			if d < 0 {
				d = -d
			}
			if d <= min {
				t.Errorf("%s: change %g -> %g passed a deadband of %g", id, ss[i-1].GetNumber(), ss[i].GetNumber(), min)
			}
		}
	}
}
