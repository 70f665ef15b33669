package opcua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

func TestCheck(t *testing.T) {
	ts := startServer(t, serverOptions{before: []string{"urn:test:decoy"}})
	src := plantSource(ts.endpoint,
		config.Point{ID: "missing-node", Node: node("NO.SUCH.NODE")},
		config.Point{ID: "missing-ns", Node: "nsu=urn:test:nowhere;s=T101.LT"},
		config.Point{ID: "server-time", Node: "i=2258"},
	)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reports, err := Check(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != len(src.Points) {
		t.Fatalf("%d reports for %d points", len(reports), len(src.Points))
	}
	want := map[string]struct{ dataType, value string }{
		"pt-T101.LT":   {"Double", "1e+06"},
		"pt-T102.PT":   {"Double", "2e+06"},
		"pt-T101.LSHH": {"Boolean", "true"},
		"pt-T101.TAG":  {"String", "T101.TAG#0"},
		"pt-T101.描述":   {"String", "储罐液位#0"},
		"pt-T101.CNT":  {"Int32", "0"},
	}
	for i, r := range reports {
		p := src.Points[i]
		if r.PointID != p.ID || r.Node != p.Node {
			t.Errorf("report %d is for %s (%s), want %s (%s): not in config order", i, r.PointID, r.Node, p.ID, p.Node)
		}
		switch r.PointID {
		case "missing-node":
			if r.Status != "BadNodeIdUnknown" || r.Err == nil || !strings.Contains(r.Err.Error(), "BadNodeIdUnknown") {
				t.Errorf("%s: status %q, err %v; want BadNodeIdUnknown", r.PointID, r.Status, r.Err)
			}
		case "missing-ns":
			var nsErr *UnknownNamespaceError
			if !errors.As(r.Err, &nsErr) || nsErr.URI != "urn:test:nowhere" || r.Resolved != "" || r.Status != "" {
				t.Errorf("%s: %+v, want an unresolved point with UnknownNamespaceError", r.PointID, r)
			} else if !strings.Contains(r.Err.Error(), plantNS) {
				t.Errorf("%s: error %q does not list the known namespaces", r.PointID, r.Err)
			}
		case "server-time":
			if r.Status != "Good" || r.Err != nil || r.DataType != "DateTime" || r.Value == "" {
				t.Errorf("%s: %+v, want a Good DateTime", r.PointID, r)
			}
		default:
			w := want[r.PointID]
			if r.Status != "Good" || r.Err != nil || r.DataType != w.dataType || r.Value != w.value {
				t.Errorf("%s: %+v, want Good %s %q", r.PointID, r, w.dataType, w.value)
			}
			if wantRes := fmt.Sprintf("ns=%d;s=%s", ts.nsIdx, strings.TrimPrefix(r.PointID, "pt-")); r.Resolved != wantRes {
				t.Errorf("%s: resolved to %q, want %q", r.PointID, r.Resolved, wantRes)
			}
		}
	}
}

// Check reads in chunks the server accepts (its MaxNodesPerRead is 32).
func TestCheckChunks(t *testing.T) {
	const n = 100
	vars := make([]testVar, n)
	src := plantSource("")
	src.Points = nil
	for i := range vars {
		vars[i] = testVar{name: fmt.Sprintf("V%03d", i), value: identityFloat(i + 1)}
		src.Points = append(src.Points, config.Point{ID: fmt.Sprintf("p%03d", i), Node: node(vars[i].name)})
	}
	ts := startServer(t, serverOptions{vars: vars})
	src.Endpoint = ts.endpoint
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reports, err := Check(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range reports {
		if want := fmt.Sprint(float64(i+1) * 1e6); r.Err != nil || r.Value != want {
			t.Errorf("%s: %+v, want value %s", r.PointID, r, want)
		}
	}
	// gopcua's Connect reads the namespace array, Check reads it again with
	// the limits, then ceil(100/32) = 4 reads of the points.
	if got := ts.reads.Load(); got != 6 {
		t.Errorf("%d Read calls, want 6", got)
	}
}

func TestCheckUnreachable(t *testing.T) {
	endpoint := fmt.Sprintf("opc.tcp://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Check(ctx, plantSource(endpoint))
	if err == nil || !strings.Contains(err.Error(), endpoint) {
		t.Fatalf("Check = %v, want an error naming %s", err, endpoint)
	}
}

func TestCheckUnsupportedSecurity(t *testing.T) {
	src := plantSource("opc.tcp://127.0.0.1:1")
	src.SecurityPolicy, src.SecurityMode = "Basic128Rsa15", "Sign"
	if _, err := Check(context.Background(), src); !errors.Is(err, ErrUnsupportedSecurity) {
		t.Fatalf("Check = %v, want ErrUnsupportedSecurity", err)
	}
}
