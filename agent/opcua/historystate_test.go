package opcua

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func loadState(t *testing.T, dir string) *historyState {
	t.Helper()
	h, err := loadHistoryState(dir, "dcs")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// While running, the file holds the marks one save behind (values just
// delivered may not be in the buffer yet); the final save holds them all.
func TestHistoryStateSavesOnePeriodBehind(t *testing.T) {
	dir := t.TempDir()
	h := loadState(t, dir)
	h.note([]*lifelinev1.Sample{{PointId: "A", SourceTimeNs: 10}, {PointId: "A", SourceTimeNs: 5}, {PointId: "B", SourceTimeNs: 7}})
	h.addPending(pendingGap{Reason: GapAgentStopped, FromNs: 1, ToNs: 2})
	if err := h.save(false); err != nil {
		t.Fatal(err)
	}
	got := loadState(t, dir)
	if len(got.f.Last) != 0 || len(got.f.Pending) != 1 {
		t.Fatalf("first save: last %v pending %v, want no marks yet and the gap", got.f.Last, got.f.Pending)
	}
	if err := h.save(false); err != nil {
		t.Fatal(err)
	}
	if got := loadState(t, dir); !reflect.DeepEqual(got.f.Last, map[string]int64{"A": 10, "B": 7}) {
		t.Fatalf("second save: last %v", got.f.Last)
	}
	h.note([]*lifelinev1.Sample{{PointId: "A", SourceTimeNs: 20}})
	if err := h.save(true); err != nil {
		t.Fatal(err)
	}
	got = loadState(t, dir)
	if got.f.Last["A"] != 20 || !reflect.DeepEqual(got.last([]string{"A", "B", "C"}), []int64{20, 7, 0}) {
		t.Fatalf("final save: last %v", got.f.Last)
	}
}

// A damaged state file is reported and replaced by an empty state.
func TestHistoryStateDamagedFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, historyFileName("dcs")), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err := loadHistoryState(dir, "dcs")
	if err == nil || h == nil || len(h.f.Last) != 0 {
		t.Fatalf("damaged file: state %v, err %v", h, err)
	}
}

// An owed window moves its start as values arrive and goes when done.
func TestHistoryStateOwedWindows(t *testing.T) {
	h := loadState(t, t.TempDir())
	w := window{From: 100, To: 200}
	h.owe("A", w, window{From: 5, To: 5}, w)
	if got := h.owed([]string{"A"}); !reflect.DeepEqual(got, [][]window{{w}}) {
		t.Fatalf("owed %v, want one window", got)
	}
	h.progress("A", w, 150, false)
	if got := h.owed([]string{"A"})[0]; len(got) != 1 || got[0].From != 150 {
		t.Fatalf("after progress: %v", got)
	}
	h.progress("A", w, 160, true)
	if got := h.owed([]string{"A"})[0]; len(got) != 0 {
		t.Fatalf("after done: %v", got)
	}
}

func TestGroupTasks(t *testing.T) {
	at := func(s int) int64 { return int64(time.Duration(s) * time.Second) }
	tasks := []task{
		{point: 0, w: window{From: at(0), To: at(100)}},
		{point: 1, w: window{From: at(30), To: at(100)}},
		{point: 2, w: window{From: at(10), To: at(100)}},
		{point: 0, w: window{From: at(50), To: at(60)}}, // the same point again
		{point: 3, w: window{From: at(500), To: at(600)}},
		{point: 4, w: window{From: at(501), To: at(600)}},
		{point: 5, w: window{From: at(502), To: at(600)}},
	}
	var got [][]int
	for _, g := range groupTasks(tasks, 2, time.Minute) {
		var pts []int
		for _, t := range g {
			pts = append(pts, t.point)
		}
		got = append(got, pts)
	}
	want := [][]int{{0, 2}, {1, 0}, {3, 4}, {5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("groups %v, want %v", got, want)
	}
}

func TestGapOf(t *testing.T) {
	gaps := []pendingGap{{FromNs: 10, ToNs: 20}, {FromNs: 30, ToNs: 40}}
	for ts, want := range map[int64]int{5: 0, 15: 0, 20: 0, 25: 1, 40: 1, 99: 1} {
		if got := gapOf(gaps, ts); got != want {
			t.Errorf("gapOf(%d) = %d, want %d", ts, got, want)
		}
	}
}

// While a backfill has not saved its windows, live values do not move the
// newest times; released, they do; dropped, they are forgotten.
func TestHistoryStateHold(t *testing.T) {
	h := loadState(t, t.TempDir())
	h.note([]*lifelinev1.Sample{{PointId: "A", SourceTimeNs: 10}})
	h.hold()
	h.note([]*lifelinev1.Sample{{PointId: "A", SourceTimeNs: 20}})
	if got := h.last([]string{"A"})[0]; got != 10 {
		t.Fatalf("held: last %d, want 10", got)
	}
	h.release()
	if got := h.last([]string{"A"})[0]; got != 20 {
		t.Fatalf("released: last %d, want 20", got)
	}
	h.hold()
	h.note([]*lifelinev1.Sample{{PointId: "A", SourceTimeNs: 30}})
	h.drop()
	h.note([]*lifelinev1.Sample{{PointId: "B", SourceTimeNs: 5}})
	if got := h.last([]string{"A", "B"}); got[0] != 20 || got[1] != 5 {
		t.Fatalf("dropped: last %v, want [20 5]", got)
	}
}

// Gap records left waiting for a backfill are recorded as they are once
// history_backfill is turned off, and only once.
func TestLeftPendingRecordedWhenBackfillOff(t *testing.T) {
	dir := t.TempDir()
	src := historySource("opc.tcp://127.0.0.1:1")
	src.HistoryBackfill = "off"
	h, err := loadHistoryState(dir, src.Name)
	if err != nil {
		t.Fatal(err)
	}
	h.addPending(pendingGap{Reason: GapAgentStopped, FromNs: 1, ToNs: 2, Recovered: 3})
	if err := h.save(true); err != nil {
		t.Fatal(err)
	}
	rec := &gapRecorder{}
	for range 2 {
		New(src, rec, nil, WithHistoryDir(dir)).recordLeftPending()
	}
	gaps := rec.recorded()
	if len(gaps) != 1 || gaps[0].GetReason() != GapAgentStopped || gaps[0].GetRecovered() != 3 || gaps[0].GetRecovery() != "" {
		t.Fatalf("gaps %v, want the one left waiting", gaps)
	}
}

// A point's windows: what a cut-short backfill owes (cut to
// history_max_window, in the state too) and the new one up to its first
// live value; a point whose first live value is its newest stored one
// missed nothing.
func TestBackfillWindows(t *testing.T) {
	src := historySource("opc.tcp://127.0.0.1:1")
	src.HistoryMaxWindow = config.Duration(10 * time.Second)
	r := New(src, &gapRecorder{}, nil, WithHistoryDir(t.TempDir()))
	r.hist = loadState(t, r.historyDir)
	sec := int64(time.Second)
	r.hist.owe("CNT", window{From: 0, To: 100 * sec})
	ids := []string{"CNT", "STEADY"}
	p := backfillPlan{src: src, ids: ids, last: []int64{200 * sec, 50 * sec}, owed: r.hist.owed(ids)}
	run := &backfillRun{out: make([]pointOutcome, 2), left: make([]int, 2), capped: make([]bool, 2), empty: make([]int, 2)}
	tasks := r.windows(p, []bool{true, true}, []int64{205 * sec, 50 * sec}, run)
	want := []task{{point: 0, w: window{From: 90 * sec, To: 100 * sec}}, {point: 0, w: window{From: 200 * sec, To: 205 * sec}}}
	if !reflect.DeepEqual(tasks, want) {
		t.Fatalf("tasks %v, want %v", tasks, want)
	}
	if got := r.hist.owed(ids); !reflect.DeepEqual(got[0], []window{want[0].w, want[1].w}) || len(got[1]) != 0 {
		t.Fatalf("owed %v", got)
	}
	if run.out[1] != outcomeDone || run.out[0] != outcomeNone || !run.capped[0] || run.left[0] != 2 {
		t.Fatalf("outcomes %v, capped %v, left %v", run.out, run.capped, run.left)
	}
}
