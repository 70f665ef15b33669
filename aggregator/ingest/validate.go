package ingest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Limits on what an agent may send. A legitimate agent stays far below
// each; they exist so one certificate cannot store or log megabytes in a
// name (docs/metrics.md, lifeline_ingest_stream_refusals_total).
const (
	maxIDLen        = 64    // site, buffer and point IDs
	maxParkLen      = 128   // a park's name
	maxVersionLen   = 64    // agent_version
	maxNameLen      = 256   // point, hazard source, equipment, source names; gap reasons
	maxDescLen      = 1024  // a point's description
	maxAddrLen      = 512   // OPC UA node IDs and endpoint URLs
	maxPoints       = 20000 // points in a hello, point IDs in a gap or a status
	maxGaps         = 1024  // gaps in one batch
	maxGapBatches   = 65536 // dropped batches one gap lists
	maxSources      = 256   // sources in a status
	maxSeq          = 1 << 62
	maxLoggedLength = 200 // longest value quoted in a log line or an error
)

// sampleRules bounds what a sample may carry. Timestamps outside
// [oldest, now+maxFuture] are absurd: a wrong clock or a corrupt value.
type sampleRules struct {
	oldest    time.Time
	maxFuture time.Duration
	maxText   int
}

var defaultRules = sampleRules{
	oldest:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
	maxFuture: 24 * time.Hour,
	maxText:   4096,
}

// statusBad is the OPC UA severity bit: Good and Uncertain codes have it
// clear, and a Good sample must carry a value.
const statusBad = 0x80000000

// check returns why a sample cannot be stored, or "" when it can. Text is
// valid UTF-8 already: protobuf refuses to decode a string that is not.
func (r sampleRules) check(s *lifelinev1.Sample, known catalog, now time.Time) string {
	if _, ok := known[s.GetPointId()]; !ok {
		return fmt.Sprintf("unknown point %s (not in the agent's hello catalog)", quote(s.GetPointId()))
	}
	if why := r.checkTime("source", s.GetSourceTimeNs(), now); why != "" {
		return why
	}
	for _, t := range []struct {
		name string
		ns   int64
	}{{"server", s.GetServerTimeNs()}, {"receive", s.GetReceiveTimeNs()}} {
		if t.ns == 0 { // absent
			continue
		}
		if why := r.checkTime(t.name, t.ns, now); why != "" {
			return why
		}
	}
	switch v := s.GetValue().(type) {
	case nil:
		if s.GetStatus()&statusBad == 0 {
			return fmt.Sprintf("no value with status 0x%08X (not bad): a good or uncertain sample must carry a value", s.GetStatus())
		}
	case *lifelinev1.Sample_Number:
		if math.IsNaN(v.Number) || math.IsInf(v.Number, 0) {
			return fmt.Sprintf("value %v is not a finite number", v.Number)
		}
	case *lifelinev1.Sample_Text:
		if len(v.Text) > r.maxText {
			return fmt.Sprintf("text value of %d bytes exceeds %d", len(v.Text), r.maxText)
		}
	}
	return ""
}

func (r sampleRules) checkTime(name string, ns int64, now time.Time) string {
	if ns < r.oldest.UnixNano() || ns > now.Add(r.maxFuture).UnixNano() {
		return fmt.Sprintf("%s timestamp %s is outside %s .. now+%s", name, time.Unix(0, ns).UTC().Format(time.RFC3339Nano),
			r.oldest.Format("2006-01-02"), r.maxFuture)
	}
	return ""
}

// validateHello checks what protobuf decoding does not: strings are valid
// UTF-8 once decoded, but IDs must also be usable as keys and names, and
// every string and list is bounded. The error names the field.
func validateHello(h *lifelinev1.Hello) error {
	if err := validateID(h.GetSiteId()); err != nil {
		return fmt.Errorf("site_id: %w", err)
	}
	if id := h.GetBufferId(); id != "" {
		if err := validateID(id); err != nil {
			return fmt.Errorf("buffer_id: %w", err)
		}
	}
	if err := validateText(h.GetPark(), maxParkLen); err != nil {
		return fmt.Errorf("park: %w", err)
	}
	if strings.ContainsAny(h.GetPark(), `'"\`) {
		return fmt.Errorf("park: %s: no quotes or backslashes (it is matched in dashboard queries)", quote(h.GetPark()))
	}
	if err := validateText(h.GetAgentVersion(), maxVersionLen); err != nil {
		return fmt.Errorf("agent_version: %w", err)
	}
	if h.GetOldestSeq() > maxSeq || h.GetNewestSeq() > maxSeq {
		return fmt.Errorf("oldest_seq %d / newest_seq %d: beyond %d", h.GetOldestSeq(), h.GetNewestSeq(), uint64(maxSeq))
	}
	if h.GetOldestSeq() > h.GetNewestSeq() {
		return fmt.Errorf("oldest_seq %d after newest_seq %d", h.GetOldestSeq(), h.GetNewestSeq())
	}
	if n := len(h.GetPoints()); n > maxPoints {
		return fmt.Errorf("points: %d, more than %d", n, maxPoints)
	}
	seen := make(map[string]bool, len(h.GetPoints()))
	for i, p := range h.GetPoints() {
		if err := validatePoint(p); err != nil {
			return fmt.Errorf("points[%d].%w", i, err)
		}
		if seen[p.GetId()] {
			return fmt.Errorf("points[%d].id %s: duplicate", i, quote(p.GetId()))
		}
		seen[p.GetId()] = true
	}
	return nil
}

// validatePoint checks one catalog entry; the error starts with the field.
func validatePoint(p *lifelinev1.Point) error {
	if err := validateID(p.GetId()); err != nil {
		return fmt.Errorf("id: %w", err)
	}
	hz := p.GetHazardSource()
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"name", p.GetName(), maxNameLen}, {"description", p.GetDescription(), maxDescLen},
		{"unit", p.GetUnit(), maxIDLen}, {"kind", p.GetKind(), maxIDLen},
		{"equipment", p.GetEquipment(), maxNameLen}, {"node_id", p.GetNodeId(), maxAddrLen},
		{"endpoint", p.GetEndpoint(), maxAddrLen},
		{"hazard_source.code", hz.GetCode(), maxIDLen}, {"hazard_source.name", hz.GetName(), maxNameLen},
	} {
		if err := validateText(f.v, f.max); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	if l := hz.GetLevel(); l > 4 {
		return fmt.Errorf("hazard_source.level: %d, want 0 (none) or 1 (highest) to 4", l)
	}
	lim := p.GetLimits()
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"range_low", p.GetRangeLow()}, {"range_high", p.GetRangeHigh()},
		{"limits.low_low", lim.GetLowLow()}, {"limits.low", lim.GetLow()},
		{"limits.high", lim.GetHigh()}, {"limits.high_high", lim.GetHighHigh()},
		{"limits.stage1", lim.GetStage1()}, {"limits.stage2", lim.GetStage2()},
		{"limits.deadband", lim.GetDeadband()},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s: %v is not a finite number", f.name, f.v)
		}
	}
	return nil
}

// validateBatch checks a batch's framing: its sequence number, its size and
// its gaps. Samples are checked one by one later and rejected singly.
func validateBatch(b *lifelinev1.Batch, maxSamples int, rules sampleRules, now time.Time) error {
	if b.GetSeq() == 0 || b.GetSeq() > maxSeq {
		return fmt.Errorf("seq %d: want 1..%d", b.GetSeq(), uint64(maxSeq))
	}
	if n := len(b.GetSamples()); n > maxSamples {
		return fmt.Errorf("samples: %d, more than the %d allowed", n, maxSamples)
	}
	if err := validateLiveness(b.GetLiveness()); err != nil {
		return err
	}
	if err := validateConditionEvents(b.GetConditionEvents()); err != nil {
		return err
	}
	return validateGaps(b.GetGaps(), rules, now)
}

func validateGaps(gaps []*lifelinev1.Gap, rules sampleRules, now time.Time) error {
	if len(gaps) > maxGaps {
		return fmt.Errorf("gaps: %d, more than %d", len(gaps), maxGaps)
	}
	for i, g := range gaps {
		if g.GetReason() == "" {
			return fmt.Errorf("gaps[%d].reason: must be set", i)
		}
		if err := validateText(g.GetReason(), maxNameLen); err != nil {
			return fmt.Errorf("gaps[%d].reason: %w", i, err)
		}
		if n := len(g.GetPointIds()); n > maxPoints {
			return fmt.Errorf("gaps[%d].point_ids: %d, more than %d", i, n, maxPoints)
		}
		for _, p := range g.GetPointIds() {
			if err := validateID(p); err != nil {
				return fmt.Errorf("gaps[%d].point_ids: %w", i, err)
			}
		}
		if err := validateText(g.GetRecovery(), maxNameLen); err != nil {
			return fmt.Errorf("gaps[%d].recovery: %w", i, err)
		}
		if n := len(g.GetUnrecoveredPointIds()); n > maxPoints {
			return fmt.Errorf("gaps[%d].unrecovered_point_ids: %d, more than %d", i, n, maxPoints)
		}
		for _, p := range g.GetUnrecoveredPointIds() {
			if err := validateID(p); err != nil {
				return fmt.Errorf("gaps[%d].unrecovered_point_ids: %w", i, err)
			}
		}
		if n := len(g.GetBatches()); n > maxGapBatches {
			return fmt.Errorf("gaps[%d].batches: %d, more than %d", i, n, maxGapBatches)
		}
		for j, d := range g.GetBatches() {
			if d.GetSeq() == 0 || d.GetSeq() > maxSeq {
				return fmt.Errorf("gaps[%d].batches[%d].seq %d: want 1..%d", i, j, d.GetSeq(), uint64(maxSeq))
			}
		}
	}
	return nil
}

// gapTimes splits gaps into those with plausible times and the reasons the
// others cannot be stored. A gap's times come from the samples it lost, so a
// source with a wrong clock gives absurd ones; refusing the whole batch
// would jam the agent's link on it, so only the gap is left out.
func gapTimes(gaps []*lifelinev1.Gap, rules sampleRules, now time.Time) ([]*lifelinev1.Gap, []string) {
	var why []string
	kept := gaps[:0]
	for i, g := range gaps {
		if w := rules.checkTime("from", g.GetFromNs(), now); w != "" {
			why = append(why, fmt.Sprintf("gaps[%d].from_ns: %s", i, w))
			continue
		}
		if w := rules.checkTime("to", g.GetToNs(), now); w != "" {
			why = append(why, fmt.Sprintf("gaps[%d].to_ns: %s", i, w))
			continue
		}
		if g.GetFromNs() > g.GetToNs() {
			why = append(why, fmt.Sprintf("gaps[%d]: from_ns %d after to_ns %d", i, g.GetFromNs(), g.GetToNs()))
			continue
		}
		kept = append(kept, g)
	}
	return kept, why
}

// validateStatus bounds a heartbeat before it is stored.
func validateStatus(st *lifelinev1.Status) error {
	if n := len(st.GetSources()); n > maxSources {
		return fmt.Errorf("sources: %d, more than %d", n, maxSources)
	}
	for i, src := range st.GetSources() {
		if err := validateText(src.GetName(), maxNameLen); err != nil {
			return fmt.Errorf("sources[%d].name: %w", i, err)
		}
		if err := validateText(src.GetEndpoint(), maxAddrLen); err != nil {
			return fmt.Errorf("sources[%d].endpoint: %w", i, err)
		}
	}
	if n := len(st.GetFrozenPoints()); n > maxPoints {
		return fmt.Errorf("frozen_points: %d, more than %d", n, maxPoints)
	}
	for i, p := range st.GetFrozenPoints() {
		if err := validateID(p); err != nil {
			return fmt.Errorf("frozen_points[%d]: %w", i, err)
		}
	}
	return nil
}

func validateID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("%s (%d bytes): want 1..%d bytes", quote(id), len(id), maxIDLen)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r == '/' || r == '\\' || r == '"' || r == '\'' {
			return fmt.Errorf("%s: no spaces, quotes, slashes or control characters", quote(id))
		}
	}
	return nil
}

var errControl = errors.New("control characters are not allowed")

// validateText bounds a free-text field and keeps control characters (a
// forged log line, a terminal escape) out of it.
func validateText(s string, limit int) error {
	if len(s) > limit {
		return fmt.Errorf("%d bytes, more than %d", len(s), limit)
	}
	for _, r := range s {
		if r < ' ' || (r >= 0x7f && r < 0xa0) {
			return fmt.Errorf("%s: %w", quote(s), errControl)
		}
	}
	return nil
}

// quote returns s quoted for a log line or an error, cut to
// maxLoggedLength bytes (on a rune boundary) with the full length noted.
func quote(s string) string {
	if len(s) <= maxLoggedLength {
		return fmt.Sprintf("%q", s)
	}
	cut := maxLoggedLength
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}
