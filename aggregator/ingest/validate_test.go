package ingest

import (
	"math"
	"strings"
	"testing"
	"time"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestGapValidation(t *testing.T) {
	now := time.Now()
	t1, t2 := now.Add(-time.Hour).UnixNano(), now.Add(-time.Minute).UnixNano()
	for _, tt := range []struct {
		gap  *lifelinev1.Gap
		want string
	}{
		{&lifelinev1.Gap{FromNs: t1, ToNs: t2}, "reason: must be set"},
		{&lifelinev1.Gap{FromNs: t1, ToNs: t2, Reason: "buffer_full", PointIds: []string{"a b"}}, "no spaces"},
		{&lifelinev1.Gap{FromNs: t1, ToNs: t2, Reason: strings.Repeat("r", 8<<20)}, "gaps[0].reason: 8388608 bytes, more than 256"},
		{&lifelinev1.Gap{FromNs: t1, ToNs: t2, Reason: "full\nlevel=ERROR msg=forged"}, "control characters"},
		{&lifelinev1.Gap{FromNs: t1, ToNs: t2, Reason: "buffer_full", Batches: []*lifelinev1.DroppedBatch{{Seq: math.MaxUint64}}}, "batches[0].seq"},
	} {
		err := validateGaps([]*lifelinev1.Gap{tt.gap}, defaultRules, now)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.200v: got %.300v, want %q", tt.gap, err, tt.want)
		}
		if err != nil && len(err.Error()) > 600 {
			t.Errorf("error of %d bytes: values must be cut short", len(err.Error()))
		}
	}
	if err := validateGaps([]*lifelinev1.Gap{{FromNs: t1, ToNs: t1, Reason: "buffer_full", Samples: 3}}, defaultRules, now); err != nil {
		t.Error(err)
	}
}

func TestGapTimes(t *testing.T) {
	now := time.Now()
	t1 := now.Add(-time.Hour).UnixNano()
	gaps := []*lifelinev1.Gap{
		{FromNs: t1, ToNs: 0, Reason: "buffer_full"},
		{FromNs: t1, ToNs: t1, Reason: "ok"},
		{FromNs: 0, ToNs: t1, Reason: "buffer_full"},
		{FromNs: t1, ToNs: math.MaxInt64, Reason: "buffer_full"},
		{FromNs: t1 + 1, ToNs: t1, Reason: "buffer_full"},
	}
	kept, why := gapTimes(gaps, defaultRules, now)
	if len(kept) != 1 || kept[0].GetReason() != "ok" || len(why) != 4 || !strings.Contains(why[3], "gaps[4]: from_ns") ||
		!strings.Contains(why[0], "gaps[0].to_ns: to timestamp 1970-01-01") || !strings.Contains(why[1], "gaps[2].from_ns") || !strings.Contains(why[2], "gaps[3].to_ns") {
		t.Fatalf("kept %v, why %q", kept, why)
	}
}

func TestHelloLimits(t *testing.T) {
	big := strings.Repeat("x", 8<<20)
	for _, tt := range []struct {
		edit func(h *lifelinev1.Hello)
		want string
	}{
		{func(h *lifelinev1.Hello) { h.AgentVersion = big }, "agent_version: 8388608 bytes, more than 64"},
		{func(h *lifelinev1.Hello) { h.Park = big }, "park: 8388608 bytes"},
		{func(h *lifelinev1.Hello) { h.Park = "P1\x1b[2J" }, "park: \"P1\\x1b[2J\": control characters"},
		{func(h *lifelinev1.Hello) { h.Park = "P' OR park != '" }, "park: \"P' OR park != '\": no quotes"},
		{func(h *lifelinev1.Hello) { h.SiteId = big }, "site_id: \"xxx"},
		{func(h *lifelinev1.Hello) { h.Points[0].Description = big }, "points[0].description: 8388608 bytes, more than 1024"},
		{func(h *lifelinev1.Hello) { h.Points[0].Name = big }, "points[0].name"},
		{func(h *lifelinev1.Hello) { h.Points[0].NodeId = big }, "points[0].node_id"},
		{func(h *lifelinev1.Hello) { h.Points[0].HazardSource = &lifelinev1.HazardSource{Level: 9} }, "points[0].hazard_source.level"},
		{func(h *lifelinev1.Hello) { h.Points[0].RangeHigh = ptrTo(math.Inf(1)) }, "points[0].range_high"},
		{func(h *lifelinev1.Hello) { h.Points[0].Limits = &lifelinev1.Limits{HighHigh: ptrTo(math.NaN())} }, "points[0].limits.high_high"},
		{func(h *lifelinev1.Hello) { h.NewestSeq = math.MaxUint64 }, "newest_seq"},
		{func(h *lifelinev1.Hello) { h.OldestSeq, h.NewestSeq = 5, 4 }, "oldest_seq 5 after newest_seq 4"},
		{func(h *lifelinev1.Hello) {
			for i := range maxPoints {
				h.Points = append(h.Points, &lifelinev1.Point{Id: "p" + strings.Repeat("0", 1+i%3) + string(rune('a'+i%26))})
			}
		}, "points: 20001, more than 20000"},
		{func(h *lifelinev1.Hello) { h.Points = append(h.Points, &lifelinev1.Point{Id: "A"}) }, "points[1].id \"A\": duplicate"},
	} {
		h := hello("S1", "A").GetHello()
		tt.edit(h)
		err := validateHello(h)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %.300v, want %q", err, tt.want)
		}
		if err != nil && len(err.Error()) > 600 {
			t.Errorf("error of %d bytes: values must be cut short", len(err.Error()))
		}
	}
	if err := validateHello(hello("S1", "A", "B").GetHello()); err != nil {
		t.Error(err)
	}
}

func ptrTo(v float64) *float64 { return &v }

func TestSampleRules(t *testing.T) {
	now := time.Now()
	known := catalog{"A": "A"}
	good := func() *lifelinev1.Sample { return num("A", now, 1) }
	for _, tt := range []struct {
		edit func(s *lifelinev1.Sample)
		want string
	}{
		{func(s *lifelinev1.Sample) { s.Value = nil }, "no value with status 0x00000000"},
		{func(s *lifelinev1.Sample) { s.Value, s.Status = nil, 0x40000000 }, "no value with status 0x40000000"},
		{func(s *lifelinev1.Sample) { s.ServerTimeNs = math.MaxInt64 }, "server timestamp"},
		{func(s *lifelinev1.Sample) { s.ReceiveTimeNs = math.MinInt64 }, "receive timestamp"},
		{func(s *lifelinev1.Sample) { s.PointId = strings.Repeat("z", 1<<20) }, "(1048576 bytes)"},
	} {
		s := good()
		tt.edit(s)
		got := defaultRules.check(s, known, now)
		if !strings.Contains(got, tt.want) || len(got) > 600 {
			t.Errorf("got %.300q, want %q", got, tt.want)
		}
	}
	bad := good()
	bad.Value, bad.Status = nil, 0x80340000 // BadNodeIdUnknown: no value is expected
	if why := defaultRules.check(bad, known, now); why != "" {
		t.Errorf("bad sample without value: %s", why)
	}
	if why := defaultRules.check(good(), known, now); why != "" {
		t.Error(why)
	}
}

func TestStatusLimits(t *testing.T) {
	big := strings.Repeat("x", 8<<20)
	for _, tt := range []struct {
		st   *lifelinev1.Status
		want string
	}{
		{&lifelinev1.Status{Sources: []*lifelinev1.SourceStatus{{Name: big}}}, "sources[0].name: 8388608 bytes"},
		{&lifelinev1.Status{Sources: []*lifelinev1.SourceStatus{{Endpoint: big}}}, "sources[0].endpoint"},
		{&lifelinev1.Status{Sources: make([]*lifelinev1.SourceStatus, maxSources+1)}, "sources: 257"},
		{&lifelinev1.Status{FrozenPoints: []string{big}}, "frozen_points[0]"},
	} {
		err := validateStatus(tt.st)
		if err == nil || !strings.Contains(err.Error(), tt.want) || len(err.Error()) > 600 {
			t.Errorf("got %.300v, want %q", err, tt.want)
		}
	}
	if err := validateStatus(&lifelinev1.Status{Sources: []*lifelinev1.SourceStatus{{Name: "plc1", Endpoint: "opc.tcp://10.0.0.1:4840"}}, FrozenPoints: []string{"T1.LT"}}); err != nil {
		t.Error(err)
	}
}

func TestBatchFraming(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		b    *lifelinev1.Batch
		want string
	}{
		{&lifelinev1.Batch{Seq: 0}, "seq 0"},
		{&lifelinev1.Batch{Seq: math.MaxUint64}, "seq 18446744073709551615: want 1.."},
		{&lifelinev1.Batch{Seq: 1, Samples: make([]*lifelinev1.Sample, 3)}, "samples: 3, more than the 2 allowed"},
		{&lifelinev1.Batch{Seq: 1, Gaps: make([]*lifelinev1.Gap, maxGaps+1)}, "gaps: 1025"},
	} {
		err := validateBatch(tt.b, 2, defaultRules, now)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("got %v, want %q", err, tt.want)
		}
	}
}
