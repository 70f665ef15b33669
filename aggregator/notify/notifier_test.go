package notify_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

func TestEscalation(t *testing.T) {
	st := openStore(t)
	in := newInbox(t)
	clk := &clock{t: time.Now()}
	ack := &acks{}
	n := newNotifier(webhookConfig(in.URL), st, ack, clk.Now)
	ctx := context.Background()

	t0 := clk.Now()
	standing, acked, cleared := alarmAt("T101.LT", t0), alarmAt("T102.LT", t0), alarmAt("T103.LT", t0)
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{standing, acked, cleared}); err != nil {
		t.Fatal(err)
	}
	poll(t, n)
	if got := in.of("officer"); len(got) != 3 {
		t.Fatalf("officer got %d, want 3 at once", len(got))
	}
	p := in.of("officer")[0]
	if !strings.Contains(p.Subject, "华东化工") || !strings.Contains(p.Text, "液氯储罐区") || !strings.Contains(p.Text, "化工园区") {
		t.Errorf("payload %+v", p)
	}

	// One alarm acknowledged, one cleared (a second part: FINAL must
	// collapse it), one standing.
	ack.ack(store.AlarmKey{SiteID: "hd-chem", PointID: "T102.LT", Condition: "HH", RaisedNs: acked.RaisedNs})
	cleared.Active, cleared.ClearedNs = false, t0.Add(2*time.Minute).UnixNano()
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{cleared}); err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Minute)
	poll(t, n)
	if got := in.of("duty"); len(got) != 0 {
		t.Fatalf("duty paged before 10 minutes: %+v", got)
	}
	clk.Add(6 * time.Minute)
	poll(t, n)
	poll(t, n)
	duty := in.of("duty")
	if len(duty) != 1 || !strings.Contains(duty[0].Subject, "T101.LT") || !strings.Contains(duty[0].Subject, "升级·10分钟未确认") {
		t.Fatalf("duty got %+v, want only the standing alarm, escalated", duty)
	}
	if len(in.of("officer")) != 3 {
		t.Errorf("officer paged again: %d", len(in.of("officer")))
	}

	// A restarted notifier (fresh memory, same store) repeats nothing.
	n2 := newNotifier(webhookConfig(in.URL), st, ack, clk.Now)
	clk.Add(time.Minute)
	poll(t, n2)
	if len(in.of("officer")) != 3 || len(in.of("duty")) != 1 {
		t.Errorf("after restart officer %d duty %d", len(in.of("officer")), len(in.of("duty")))
	}
}

func TestFloodAndBackfillSummaries(t *testing.T) {
	st := openStore(t)
	in := newInbox(t)
	// Start one minute into a flood window, so that it does not end mid-test.
	clk := &clock{t: time.Now().Truncate(10 * time.Minute).Add(time.Minute)}
	cfg := webhookConfig(in.URL)
	cfg.Rules[0].Steps = cfg.Rules[0].Steps[:1]
	n := newNotifier(cfg, st, &acks{}, clk.Now)
	ctx := context.Background()

	var live []store.AlarmEvent
	for i := range 15 {
		live = append(live, alarmAt("P"+string(rune('A'+i)), clk.Now().Add(time.Duration(i)*time.Second)))
	}
	// Three back-filled alarms from an outage a day ago.
	var old []store.AlarmEvent
	for i := range 3 {
		a := alarmAt("B"+string(rune('A'+i)), clk.Now().Add(-24*time.Hour+time.Duration(i)*time.Minute))
		a.Backfill, a.Active, a.ClearedNs = true, false, a.RaisedNs+int64(time.Minute)
		old = append(old, a)
	}
	if err := st.SaveAlarmEvents(ctx, append(live[:12:12], old...)); err != nil {
		t.Fatal(err)
	}
	poll(t, n)
	clk.Add(time.Minute)
	if err := st.SaveAlarmEvents(ctx, live[12:]); err != nil {
		t.Fatal(err)
	}
	poll(t, n)
	if got := in.of("officer"); len(got) != 10 {
		t.Fatalf("officer got %d before the window ended, want the first 10", len(got))
	}
	clk.Add(9 * time.Minute) // past the window's end
	poll(t, n)
	poll(t, n)
	got := in.of("officer")
	if len(got) != 12 {
		t.Fatalf("officer got %d, want 10 alarms and 2 summaries: %+v", len(got), got)
	}
	var flood, backfill int
	for _, p := range got[10:] {
		switch {
		case strings.Contains(p.Subject, "另有 5 条报警"):
			flood++
		case strings.Contains(p.Subject, "补报 3 条"):
			backfill++
			if !strings.Contains(p.Text, "BA") || !strings.Contains(p.Text, "BC") {
				t.Errorf("backfill summary lists %q", p.Text)
			}
		default:
			t.Errorf("unexpected %q", p.Subject)
		}
	}
	if flood != 1 || backfill != 1 {
		t.Errorf("flood summaries %d, backfill summaries %d", flood, backfill)
	}
	for _, p := range got[:10] {
		if strings.Contains(p.Subject, " B") {
			t.Errorf("back-filled alarm paged alone: %q", p.Subject)
		}
	}
}

func TestDeliveryRetriedThenGivenUp(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: time.Now()}
	cfg := webhookConfig("http://127.0.0.1:1") // nothing listens
	cfg.Rules[0].Steps = cfg.Rules[0].Steps[:1]
	cfg.Retry.MaxAttempts, cfg.Retry.Backoff = 2, time.Minute
	n := newNotifier(cfg, st, &acks{}, clk.Now)
	ctx := context.Background()
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{alarmAt("T101.LT", clk.Now())}); err != nil {
		t.Fatal(err)
	}
	poll(t, n)
	if c, err := st.OutboxPendingCount(ctx); err != nil || c != 1 {
		t.Fatalf("pending %d (%v), want 1 awaiting retry", c, err)
	}
	clk.Add(2 * time.Minute)
	poll(t, n)
	if c, err := st.OutboxPendingCount(ctx); err != nil || c != 0 {
		t.Fatalf("pending %d (%v), want 0 after giving up", c, err)
	}
}

type brokenAcks struct{}

func (brokenAcks) Acknowledged(context.Context, []store.AlarmKey) (map[store.AlarmKey]bool, error) {
	return nil, errors.New("alarm_actions unreadable")
}

// Notifications already decided go out even when new decisions cannot be
// made.
func TestPendingDeliveredWhenDecidingFails(t *testing.T) {
	st := openStore(t)
	in := newInbox(t)
	clk := &clock{t: time.Now()}
	ctx := context.Background()
	now := clk.Now().UnixNano()
	if err := st.SaveOutbox(ctx, []store.OutboxRow{{ID: "nold", State: store.OutboxPending, Kind: store.OutboxAlarm,
		Recipient: "officer", Subject: "旧的", DecidedNs: now, DueNs: now, Version: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{alarmAt("T101.LT", clk.Now())}); err != nil {
		t.Fatal(err)
	}
	n := newNotifier(webhookConfig(in.URL), st, brokenAcks{}, clk.Now)
	if err := n.Poll(ctx); err == nil || !strings.Contains(err.Error(), "unreadable") {
		t.Errorf("poll error %v", err)
	}
	if got := in.of("officer"); len(got) != 1 || got[0].ID != "nold" {
		t.Errorf("delivered %+v, want the pending one only", got)
	}
}

// A shelved alarm is notified to nobody until its shelf runs out.
func TestShelvedAlarmWaits(t *testing.T) {
	st := openStore(t)
	in := newInbox(t)
	clk := &clock{t: time.Now()}
	ack := &acks{}
	cfg := webhookConfig(in.URL)
	n := notify.New(cfg, st, st, ack, notify.NewSenders(cfg, nil), notify.Options{Now: clk.Now, Shelves: ack},
		notify.NewMetrics(nil), slog.New(slog.DiscardHandler))
	ev := alarmAt("T101.LT", clk.Now())
	ack.shelve(store.AlarmKey{SiteID: ev.SiteID, PointID: ev.PointID, Condition: ev.Condition, RaisedNs: ev.RaisedNs},
		clk.Now().Add(30*time.Minute))
	if err := st.SaveAlarmEvents(context.Background(), []store.AlarmEvent{ev}); err != nil {
		t.Fatal(err)
	}
	poll(t, n)
	clk.Add(20 * time.Minute)
	poll(t, n)
	if len(in.of("officer"))+len(in.of("duty")) != 0 {
		t.Fatalf("shelved alarm notified: %+v %+v", in.of("officer"), in.of("duty"))
	}
	clk.Add(11 * time.Minute) // the shelf has run out; still active, unacknowledged
	poll(t, n)
	if len(in.of("officer")) != 1 || len(in.of("duty")) != 1 {
		t.Errorf("after the shelf: officer %d, duty %d, want 1 each", len(in.of("officer")), len(in.of("duty")))
	}
}
