package opcua

import (
	"math"
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestSetValue(t *testing.T) {
	when := time.Date(2025, 6, 1, 8, 0, 0, 500_000_000, time.UTC)
	tests := []struct {
		name string
		in   any
		want any // float64, bool, string, or nil for unset
	}{
		{"nil", nil, nil},
		{"bool", true, true},
		{"int8", int8(-8), -8.0},
		{"uint8", uint8(8), 8.0},
		{"int16", int16(-16), -16.0},
		{"uint16", uint16(16), 16.0},
		{"int32", int32(-32), -32.0},
		{"uint32", uint32(32), 32.0},
		{"int64", int64(-64), -64.0},
		{"uint64", uint64(64), 64.0},
		{"float keeps its decimal", float32(12.3), 12.3},
		{"double", 98.76, 98.76},
		{"NaN passes through", math.NaN(), math.NaN()},
		{"status code", ua.StatusBadNodeIDUnknown, float64(0x80340000)},
		{"datetime as unix seconds", when, float64(when.UnixNano()) / 1e9},
		{"null datetime", time.Time{}, 0.0},
		{"string", "储罐液位高高", "储罐液位高高"},
		{"invalid utf-8 string", "a\xffb", "a\uFFFDb"},
		{"localized text", ua.NewLocalizedText("可燃气体"), "可燃气体"},
		{"byte string utf-8", []byte("OK"), "OK"},
		{"byte string binary", []byte{0xff, 0x00}, "base64:/wA="},
		{"node id", ua.NewStringNodeID(2, "x"), "ns=2;s=x"},
		{"qualified name", &ua.QualifiedName{NamespaceIndex: 1, Name: "n"}, "1:n"},
		{"array", []float64{1, 2}, "[1 2]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &lifelinev1.Sample{}
			setValue(s, tt.in, nil)
			// A number put into a caller's value (see sampleSlab) is the same.
			into := &lifelinev1.Sample{}
			setValue(into, tt.in, &lifelinev1.Sample_Number{Number: -1})
			if !proto.Equal(s, into) {
				t.Errorf("into a given number: %v, want %v", into, s)
			}
			switch want := tt.want.(type) {
			case nil:
				if s.Value != nil {
					t.Errorf("Value = %v, want unset", s.Value)
				}
			case float64:
				n, ok := s.Value.(*lifelinev1.Sample_Number)
				if !ok || !(n.Number == want || math.IsNaN(want) && math.IsNaN(n.Number)) {
					t.Errorf("Value = %v, want Number %v", s.Value, want)
				}
			case bool:
				if f, ok := s.Value.(*lifelinev1.Sample_Flag); !ok || f.Flag != want {
					t.Errorf("Value = %v, want Flag %v", s.Value, want)
				}
			case string:
				if x, ok := s.Value.(*lifelinev1.Sample_Text); !ok || x.Text != want {
					t.Errorf("Value = %v, want Text %q", s.Value, want)
				}
			}
		})
	}
}

func TestNewSampleTimestamps(t *testing.T) {
	src := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	srv := src.Add(time.Second)
	recv := src.Add(2 * time.Second)
	tests := []struct {
		name       string
		dv         *ua.DataValue
		wantSource time.Time
		wantServer int64
		wantFrom   timeSource
	}{
		{"source", &ua.DataValue{SourceTimestamp: src, ServerTimestamp: srv}, src, srv.UnixNano(), fromSource},
		{"server fallback", &ua.DataValue{ServerTimestamp: srv}, srv, srv.UnixNano(), fromServer},
		{"receive fallback", &ua.DataValue{}, recv, 0, fromReceive},
		{"pre-1970 source is no source", &ua.DataValue{SourceTimestamp: time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC), ServerTimestamp: srv}, srv, srv.UnixNano(), fromServer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, from := newSample("P1", tt.dv, recv)
			if s.PointId != "P1" || s.SourceTimeNs != tt.wantSource.UnixNano() || s.ServerTimeNs != tt.wantServer || s.ReceiveTimeNs != recv.UnixNano() || from != tt.wantFrom {
				t.Errorf("got %v from %v, want source %d server %d receive %d from %v", s, from, tt.wantSource.UnixNano(), tt.wantServer, recv.UnixNano(), tt.wantFrom)
			}
		})
	}
}

// A bad-quality value without data is still a sample: status kept, value unset.
func TestNewSampleBadStatusWithoutValue(t *testing.T) {
	dv := &ua.DataValue{Value: new(ua.Variant), Status: ua.StatusBadCommunicationError, ServerTimestamp: time.Now()}
	s, _ := newSample("P1", dv, time.Now())
	if s.Status != uint32(ua.StatusBadCommunicationError) || s.Value != nil {
		t.Fatalf("got %v, want status BadCommunicationError and no value", s)
	}
}

func TestStatusText(t *testing.T) {
	tests := map[ua.StatusCode]string{
		ua.StatusOK:                       "Good",
		ua.StatusBadNodeIDUnknown:         "BadNodeIdUnknown",
		ua.StatusUncertainLastUsableValue: "UncertainLastUsableValue",
		ua.StatusCode(0x80340400):         "BadNodeIdUnknown (0x80340400)",
		ua.StatusCode(0x80FF0000):         "Bad (0x80FF0000)",
		ua.StatusCode(0x40FF0000):         "Uncertain (0x40FF0000)",
	}
	for code, want := range tests {
		if got := statusText(code); got != want {
			t.Errorf("statusText(0x%08X) = %q, want %q", uint32(code), got, want)
		}
	}
}
