package alarm_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var base = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

const site = "S1"

func f(v float64) *float64 { return &v }

func ms(v int64) *int64 { return &v }

// step is one batch: samples at offsets (seconds from base).
type step struct {
	backfill bool
	samples  []smp
}

type smp struct {
	at    float64
	value float64
	bad   bool
}

// row is an alarm as the test expects it in alarm_events FINAL.
type row struct {
	cond     string
	raised   float64
	cleared  float64 // -1 while active
	reason   string
	backfill bool
}

func (r row) String() string {
	return fmt.Sprintf("%s raised %+.1f cleared %+.1f %s backfill=%v", r.cond, r.raised, r.cleared, r.reason, r.backfill)
}

func at(sec float64) int64 { return base.Add(time.Duration(sec * float64(time.Second))).UnixNano() }

func batch(seq uint64, st step) *store.Batch {
	b := &store.Batch{SiteID: site, Seq: seq, Backfill: st.backfill}
	for _, s := range st.samples {
		var status uint32
		if s.bad {
			status = 0x80000000
		}
		b.Samples = append(b.Samples, &lifelinev1.Sample{PointId: "P1", SourceTimeNs: at(s.at),
			Value: &lifelinev1.Sample_Number{Number: s.value}, Status: status})
	}
	return b
}

func startEvaluator(t *testing.T, st alarm.Store, opts alarm.Options) (*alarm.Evaluator, func()) {
	t.Helper()
	ev := alarm.New(st, opts, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ev.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ev, stop
}

func testOptions() alarm.Options {
	o := alarm.DefaultOptions()
	o.StaleAfter, o.CommLossAfter = 0, 0
	o.Tick = time.Hour // decisions come from samples and Sync only
	o.Now = func() time.Time { return base.Add(time.Hour) }
	return o
}

func savePoint(t *testing.T, st *store.Store, lim *lifelinev1.Limits) {
	t.Helper()
	err := st.SaveCatalog(context.Background(), site, "P", "test", []*lifelinev1.Point{{
		Id: "P1", Kind: "level", Unit: "m", Limits: lim,
		HazardSource: &lifelinev1.HazardSource{Code: "HS-01", Name: "罐区", Level: 2}, Equipment: "T1",
	}})
	if err != nil {
		t.Fatal(err)
	}
}

// feed inserts each step as a batch, hands it to the evaluator as the
// Writer would, and waits until it is evaluated.
func feed(t *testing.T, st *store.Store, ev *alarm.Evaluator, seq *uint64, steps []step) {
	t.Helper()
	ctx := context.Background()
	for _, s := range steps {
		*seq++
		b := batch(*seq, s)
		if err := st.Insert(ctx, []*store.Batch{b}); err != nil {
			t.Fatal(err)
		}
		ev.Committed([]*store.Batch{b})
	}
	if err := ev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
}

func alarms(t *testing.T, st *store.Store) []row {
	t.Helper()
	conn := chtest.Conn(t, st.Config().Addr, st.Config().Database)
	rows, err := conn.Query(context.Background(), `SELECT condition, raised_ns, cleared_ns, end_reason, backfill
FROM alarm_events FINAL ORDER BY raised_ns, condition`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var raised, cleared int64
		var bf uint8
		if err := rows.Scan(&r.cond, &raised, &cleared, &r.reason, &bf); err != nil {
			t.Fatal(err)
		}
		r.raised = float64(raised-base.UnixNano()) / 1e9
		r.cleared = -1
		if cleared != 0 {
			r.cleared = float64(cleared-base.UnixNano()) / 1e9
		}
		r.backfill = bf == 1
		out = append(out, r)
	}
	return out
}

func TestAlarmSemantics(t *testing.T) {
	analog := &lifelinev1.Limits{High: f(80), HighHigh: f(90), Low: f(10), Deadband: 2}
	noDeadband := &lifelinev1.Limits{High: f(80)}
	gas := &lifelinev1.Limits{Stage1: f(25), Stage2: f(50), Deadband: 1}
	tests := []struct {
		name     string
		limits   *lifelinev1.Limits
		on, off  time.Duration
		oos      *store.OutOfServicePeriod
		settings *store.PointSettings
		steps    []step
		want     []row
	}{
		{
			name: "deadband holds the alarm until the value is below limit minus deadband", limits: analog,
			steps: []step{{samples: []smp{{0, 70, false}, {1, 81, false}, {2, 79, false}, {3, 78.5, false}, {4, 77.9, false}}}},
			want:  []row{{alarm.H, 1, 4, "value", false}},
		},
		{
			name: "on-delay: a return inside the delay cancels; raised at onset plus delay", limits: analog, on: 5 * time.Second,
			steps: []step{{samples: []smp{{0, 81, false}, {2, 70, false}, {10, 81, false}, {13, 82, false}}}, {samples: []smp{{16, 83, false}}}},
			want:  []row{{alarm.H, 15, -1, "", false}},
		},
		{
			// Change-only samples: the value held between them.
			name: "on-delay: an excursion longer than the delay raises at onset plus delay though it ended before the next sample", limits: analog, on: 3 * time.Second,
			steps: []step{{samples: []smp{{0, 70, false}, {1, 81, false}, {5, 70, false}}}},
			want:  []row{{alarm.H, 4, 5, "value", false}},
		},
		{
			name: "on-delay: an excursion a little longer than the delay", limits: analog, on: 3 * time.Second,
			steps: []step{{samples: []smp{{1, 81, false}}}, {samples: []smp{{4.5, 70, false}}}},
			want:  []row{{alarm.H, 4, 4.5, "value", false}},
		},
		{
			name: "on-delay: an excursion exactly as long as the delay or shorter raises nothing", limits: analog, on: 3 * time.Second,
			steps: []step{{samples: []smp{{1, 81, false}, {4, 70, false}, {10, 81, false}, {12.9, 70, false}}}},
			want:  nil,
		},
		{
			name: "on-delay: a return inside the deadband keeps the alarm raised at onset plus delay", limits: analog, on: 3 * time.Second,
			steps: []step{{samples: []smp{{1, 81, false}, {6, 79, false}, {9, 77.9, false}}}},
			want:  []row{{alarm.H, 4, 9, "value", false}},
		},
		{
			name: "on-delay: a pending raise that ran out settles before a higher limit is judged", limits: analog, on: 3 * time.Second,
			steps: []step{{samples: []smp{{1, 81, false}, {6, 95, false}, {8, 95, false}, {20, 50, false}}}},
			want:  []row{{alarm.H, 4, 20, "value", false}, {alarm.HH, 9, 20, "value", false}},
		},
		{
			name: "off-delay: a return longer than the delay clears at return plus delay though the next sample is beyond", limits: analog, off: 5 * time.Second,
			steps: []step{{samples: []smp{{0, 81, false}, {2, 70, false}, {10, 81, false}, {11, 70, false}, {16, 81, false}, {30, 50, false}, {40, 50, false}}}},
			want:  []row{{alarm.H, 0, 7, "value", false}, {alarm.H, 10, 35, "value", false}},
		},
		{
			name: "off-delay: a return that ends inside the deadband after the delay clears", limits: analog, off: 5 * time.Second,
			steps: []step{{samples: []smp{{0, 81, false}, {2, 70, false}, {9, 79, false}, {20, 81, false}}}},
			want:  []row{{alarm.H, 0, 7, "value", false}, {alarm.H, 20, -1, "", false}},
		},
		{
			name: "on- and off-delay together", limits: analog, on: 3 * time.Second, off: 5 * time.Second,
			steps: []step{{samples: []smp{{0, 81, false}, {4, 70, false}, {20, 50, false}}}},
			want:  []row{{alarm.H, 3, 9, "value", false}},
		},
		{
			name: "a point's own delays from the point list win over the default", limits: &lifelinev1.Limits{High: f(80), Deadband: 2, OnDelayMs: ms(5000), OffDelayMs: ms(0)},
			on: time.Second, off: 10 * time.Second,
			steps: []step{{samples: []smp{{0, 81, false}, {6, 70, false}}}},
			want:  []row{{alarm.H, 5, 6, "value", false}},
		},
		{
			name: "a point's own on-delay from the registry", limits: analog,
			settings: &store.PointSettings{SiteID: site, PointID: "P1", OnDelay: 5 * time.Second},
			steps:    []step{{samples: []smp{{0, 81, false}, {6, 82, false}}}},
			want:     []row{{alarm.H, 5, -1, "", false}},
		},
		{
			name: "off-delay: cleared at return plus delay", limits: analog, off: 5 * time.Second,
			steps: []step{{samples: []smp{{0, 81, false}, {2, 70, false}, {4, 81, false}, {6, 70, false}, {12, 70, false}}}},
			want:  []row{{alarm.H, 0, 11, "value", false}},
		},
		{
			name: "chattering input without deadband raises every crossing", limits: noDeadband,
			steps: []step{{samples: []smp{{0, 81, false}, {1, 79, false}, {2, 81, false}, {3, 79, false}, {4, 81, false}, {5, 79, false}}}},
			want:  []row{{alarm.H, 0, 1, "value", false}, {alarm.H, 2, 3, "value", false}, {alarm.H, 4, 5, "value", false}},
		},
		{
			name: "HH implies H; low limit", limits: analog,
			steps: []step{{samples: []smp{{0, 95, false}, {1, 50, false}, {2, 9, false}}}},
			want:  []row{{alarm.H, 0, 1, "value", false}, {alarm.HH, 0, 1, "value", false}, {alarm.L, 2, -1, "", false}},
		},
		{
			name: "gas detector stages", limits: gas,
			steps: []step{{samples: []smp{{0, 30, false}, {1, 55, false}, {2, 48.5, false}, {3, 10, false}}}},
			want:  []row{{alarm.Stage1, 0, 3, "value", false}, {alarm.Stage2, 1, 2, "value", false}},
		},
		{
			name: "bad quality raises; limits keep their state", limits: analog,
			steps: []step{{samples: []smp{{0, 85, false}, {1, 0, true}, {2, 0, true}, {3, 85, false}, {4, 50, false}}}},
			want:  []row{{alarm.H, 0, 4, "value", false}, {alarm.BadQuality, 1, 3, "quality", false}},
		},
		{
			name: "out of service clears and suppresses", limits: analog,
			oos:   &store.OutOfServicePeriod{SiteID: site, PointID: "P1", From: base.Add(5 * time.Second), To: base.Add(100 * time.Second), Reason: "仪表检修", SetBy: "张工"},
			steps: []step{{samples: []smp{{0, 85, false}, {6, 85, false}, {7, 95, false}}}},
			want:  []row{{alarm.H, 0, 6, "out_of_service", false}},
		},
		{
			name: "late back-filled data is evaluated as history", limits: analog,
			steps: []step{
				{samples: []smp{{100, 50, false}}},
				{backfill: true, samples: []smp{{10, 85, false}, {20, 50, false}, {30, 50, false}}},
				{samples: []smp{{101, 85, false}}},
			},
			want: []row{{alarm.H, 10, 20, "value", true}, {alarm.H, 101, -1, "", false}},
		},
		{
			name: "a batch evaluated twice and a repeated sample change nothing", limits: analog,
			steps: []step{{samples: []smp{{0, 85, false}, {0, 85, false}, {1, 50, false}}}},
			want:  []row{{alarm.H, 0, 1, "value", false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := storetest.Open(t)
			savePoint(t, st, tt.limits)
			if tt.oos != nil {
				if err := st.SaveOutOfService(context.Background(), []store.OutOfServicePeriod{*tt.oos}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.settings != nil {
				if err := st.SaveRegistry(context.Background(), nil, nil, nil, []store.PointSettings{*tt.settings}); err != nil {
					t.Fatal(err)
				}
			}
			opts := testOptions()
			opts.OnDelay, opts.OffDelay = tt.on, tt.off
			ev, _ := startEvaluator(t, st, opts)
			var seq uint64
			feed(t, st, ev, &seq, tt.steps)
			if strings.HasPrefix(tt.name, "a batch evaluated twice") {
				// The Writer's observer may see a batch again (another
				// aggregator, a replay): it is evaluated once.
				ev.Committed([]*store.Batch{batch(1, tt.steps[0])})
				if err := ev.Sync(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			got := alarms(t, st)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("alarms:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}
