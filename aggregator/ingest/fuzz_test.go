package ingest

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// fuzzNow is fixed so a corpus entry means the same thing on every run.
var fuzzNow = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// FuzzValidateHello decodes a hello as the stream would and validates it:
// nothing may panic, and a hello that passes is within every limit.
func FuzzValidateHello(f *testing.F) {
	for _, m := range []*lifelinev1.AgentMessage{hello("S1", "A", "B"), helloFor("S1", "b1", 1, 9)} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m lifelinev1.AgentMessage
		if proto.Unmarshal(data, &m) != nil || m.GetHello() == nil {
			return
		}
		h := m.GetHello()
		err := validateHello(h)
		if err != nil {
			if len(err.Error()) > 2000 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if len(h.GetPark()) > maxParkLen || len(h.GetAgentVersion()) > maxVersionLen || len(h.GetPoints()) > maxPoints ||
			h.GetNewestSeq() > maxSeq || h.GetOldestSeq() > h.GetNewestSeq() {
			t.Fatalf("accepted an oversized hello: %.300v", h)
		}
		for _, p := range h.GetPoints() {
			if len(p.GetDescription()) > maxDescLen || strings.ContainsAny(p.GetName(), "\n\r\x00") || validateID(p.GetId()) != nil {
				t.Fatalf("accepted point %.300v", p)
			}
		}
	})
}

// FuzzBatch decodes any agent message after the hello and runs every check
// the stream runs on it: batch framing, gap times, each sample, a status.
func FuzzBatch(f *testing.F) {
	ts := fuzzNow.Add(-time.Minute)
	full := batch(7, num("A", ts, 1), &lifelinev1.Sample{PointId: "A", SourceTimeNs: ts.UnixNano(), Status: 0x80340000})
	full.GetBatch().Gaps = []*lifelinev1.Gap{{FromNs: ts.UnixNano(), ToNs: ts.UnixNano(), Reason: "buffer_full",
		PointIds: []string{"A"}, Batches: []*lifelinev1.DroppedBatch{{Seq: 3, Samples: 10}}}}
	st := &lifelinev1.AgentMessage{Body: &lifelinev1.AgentMessage_Status{Status: &lifelinev1.Status{
		Sources: []*lifelinev1.SourceStatus{{Name: "plc", Endpoint: "opc.tcp://10.0.0.1:4840"}}, FrozenPoints: []string{"A"}}}}
	for _, m := range []*lifelinev1.AgentMessage{full, st, batch(1)} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	known := catalog{"A": "A"}
	f.Fuzz(func(t *testing.T, data []byte) {
		var m lifelinev1.AgentMessage
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		if st := m.GetStatus(); st != nil {
			_ = validateStatus(st)
		}
		b := m.GetBatch()
		if b == nil || validateBatch(b, 1000, defaultRules, fuzzNow) != nil {
			return
		}
		kept, _ := gapTimes(b.GetGaps(), defaultRules, fuzzNow)
		for _, g := range kept {
			if g.GetToNs() < defaultRules.oldest.UnixNano() || g.GetFromNs() > g.GetToNs() || len(g.GetReason()) > maxNameLen {
				t.Fatalf("kept gap %.300v", g)
			}
		}
		for _, s := range b.GetSamples() {
			if why := defaultRules.check(s, known, fuzzNow); why != "" {
				if len(why) > 1000 {
					t.Fatalf("reason of %d bytes", len(why))
				}
				continue
			}
			if s.GetValue() == nil && s.GetStatus()&statusBad == 0 {
				t.Fatalf("accepted a good sample without a value: %v", s)
			}
		}
	})
}
