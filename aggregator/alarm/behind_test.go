package alarm_test

import (
	"slices"
	"testing"

	"github.com/lifeline-telemetry/lifeline/aggregator/alarm"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// Samples that arrive after newer ones (re-sent after an aggregator
// restart while live data went first, or back-filled after an outage)
// never make a second alarm inside one the live samples already raised.
func TestLateSamplesInsideALiveAlarm(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
		want  []row
	}{
		{
			name: "inside an active alarm",
			steps: []step{
				{samples: []smp{{0, 50, false}, {5, 85, false}, {20, 85, false}}},
				{samples: []smp{{10, 86, false}, {12, 85, false}, {14, 50, false}, {16, 85, false}}},
			},
			want: []row{{alarm.H, 5, -1, "", false}},
		},
		{
			name: "inside a cleared alarm",
			steps: []step{
				{samples: []smp{{0, 50, false}, {5, 85, false}, {20, 50, false}}},
				{backfill: true, samples: []smp{{10, 86, false}, {15, 50, false}}},
			},
			want: []row{{alarm.H, 5, 20, "value", false}},
		},
		{
			name: "a history alarm ends where the live one began",
			steps: []step{
				{samples: []smp{{0, 50, false}, {30, 85, false}, {40, 85, false}}},
				{backfill: true, samples: []smp{{10, 85, false}, {20, 85, false}, {35, 85, false}}},
			},
			want: []row{{alarm.H, 10, 30, "live_alarm", true}, {alarm.H, 30, -1, "", false}},
		},
		{
			name: "a history alarm that steps over a whole live alarm ends where it began",
			steps: []step{
				{samples: []smp{{0, 50, false}, {30, 85, false}, {35, 50, false}, {40, 50, false}}},
				{backfill: true, samples: []smp{{10, 85, false}, {20, 85, false}, {38, 85, false}}},
			},
			// 38 is an excursion only the late samples saw: an alarm of its own.
			want: []row{{alarm.H, 10, 30, "live_alarm", true}, {alarm.H, 30, 35, "value", false}, {alarm.H, 38, -1, "", true}},
		},
		{
			name: "history raised before a live alarm, its next sample long after",
			steps: []step{
				{samples: []smp{{0, 50, false}, {20, 85, false}, {21, 85, false}, {22, 50, false}, {30, 50, false}}},
				{backfill: true, samples: []smp{{15, 85, false}, {16, 85, false}}},
				{samples: []smp{{40, 50, false}, {50, 50, false}}},
				{backfill: true, samples: []smp{{45, 50, false}, {46, 50, false}}},
			},
			want: []row{{alarm.H, 15, 20, "live_alarm", true}, {alarm.H, 20, 22, "value", false}},
		},
		{
			name: "before the live alarm, history raises and clears as usual",
			steps: []step{
				{samples: []smp{{0, 50, false}, {30, 85, false}}},
				{backfill: true, samples: []smp{{10, 85, false}, {20, 50, false}}},
			},
			want: []row{{alarm.H, 10, 20, "value", true}, {alarm.H, 30, -1, "", false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := storetest.Open(t)
			savePoint(t, st, &lifelinev1.Limits{High: f(80), Deadband: 2})
			ev, _ := startEvaluator(t, st, testOptions())
			var seq uint64
			feed(t, st, ev, &seq, tt.steps)
			if got := alarms(t, st); !slices.Equal(got, tt.want) {
				t.Fatalf("alarms:\n got %v\nwant %v", got, tt.want)
			}
		})
	}
}
