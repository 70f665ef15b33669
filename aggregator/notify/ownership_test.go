package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
	"github.com/lifeline-telemetry/lifeline/aggregator/owner"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// delivery is one webhook request: which aggregator sent which id.
type delivery struct{ by, id, subject string }

// Two aggregators share one database, each owning one site: every
// notification is delivered once, by the owner of its site, also when a
// site moves with a notification decided and not yet sent, and when it
// moves with an alarm its old owner never decided and its new owner's
// cursor is past.
func TestOwnersNotifyOnce(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	err := st.SaveRegistry(ctx, []store.Enterprise{
		{SiteID: "hd-chem", Code: "E1", Name: "华东化工", Park: "化工园区"},
		{SiteID: "hb-chem", Code: "E2", Name: "华北化工", Park: "化工园区"},
	}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Both cursors are past every alarm written here: only the alarms
	// still active are read again, cleared ones only by a take-over.
	for _, name := range []string{"agg-1", "agg-2"} {
		if err := st.SaveNotifyCursor(ctx, name, time.Now().Add(10*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	logger := slog.New(slog.DiscardHandler)
	reg1, reg2 := owner.New(st, "agg-1", logger), owner.New(st, "agg-2", logger)
	claim(t, reg1, "hd-chem")
	claim(t, reg2, "hb-chem")

	rec := newHookRecorder(t)
	deliveries := rec.deliveries

	clk := &clock{t: time.Now()}
	var afterDecide1 func()
	n1 := ownerNotifier(ownerConfig(rec.url, "agg-1"), st, reg1, clk, func() {
		if afterDecide1 != nil {
			afterDecide1()
		}
	})
	n2 := ownerNotifier(ownerConfig(rec.url, "agg-2"), st, reg2, clk, nil)
	pollAll := func() {
		for range 2 {
			poll(t, n1)
			poll(t, n2)
		}
	}

	// Each site's alarm is delivered once, by its owner, even when the
	// other notifier polls while the first delivery is under way.
	a1, b1 := alarmAt("T101.LT", clk.Now()), alarmAt("T201.LT", clk.Now())
	b1.SiteID = "hb-chem"
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{a1, b1}); err != nil {
		t.Fatal(err)
	}
	rec.beforeFirstAnswer(func() {
		if err := n2.Poll(ctx); err != nil {
			t.Error(err)
		}
	})
	pollAll()
	wantOnce(t, deliveries("T101.LT"), "agg-1")
	wantOnce(t, deliveries("T201.LT"), "agg-2")

	// Site hd-chem moves to agg-2 after agg-1 decided its alarm and before
	// agg-1 sent it: agg-2 sends it, agg-1 does not.
	a2 := alarmAt("T102.LT", clk.Now())
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{a2}); err != nil {
		t.Fatal(err)
	}
	afterDecide1 = func() {
		afterDecide1 = nil
		claim(t, reg2, "hd-chem")
	}
	poll(t, n1)
	if d := deliveries("T102.LT"); len(d) != 0 {
		t.Fatalf("old owner sent after losing the site: %+v", d)
	}
	clk.Add(time.Second)
	pollAll()
	wantOnce(t, deliveries("T102.LT"), "agg-2")

	// An alarm written (here: raised and cleared) while agg-2 owned the
	// site, never decided there, reaches agg-1 when it takes the site
	// back, although agg-1's cursor is past it.
	a3 := alarmAt("T103.LT", clk.Now())
	a3.Active, a3.ClearedNs = false, clk.Now().Add(time.Second).UnixNano()
	if err := st.SaveAlarmEvents(ctx, []store.AlarmEvent{a3}); err != nil {
		t.Fatal(err)
	}
	claim(t, reg1, "hd-chem")
	clk.Add(time.Second)
	pollAll()
	wantOnce(t, deliveries("T103.LT"), "agg-1")
	for _, p := range []string{"T101.LT", "T201.LT", "T102.LT"} {
		if d := deliveries(p); len(d) != 1 {
			t.Errorf("%s delivered %d times after the moves: %+v", p, len(d), d)
		}
	}
}

// hookRecorder is a webhook receiver that records which aggregator (the
// URL path) sent which notification.
type hookRecorder struct {
	url     string
	mu      sync.Mutex
	got     []delivery
	onFirst func() // runs inside the next delivery, before it is answered
}

func newHookRecorder(t *testing.T) *hookRecorder {
	rec := &hookRecorder{}
	hook := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var p channel.WebhookPayload
		if err := json.Unmarshal(data, &p); err != nil {
			t.Errorf("payload %q: %v", data, err)
		}
		rec.mu.Lock()
		rec.got = append(rec.got, delivery{by: strings.TrimPrefix(r.URL.Path, "/"), id: p.ID, subject: p.Subject})
		f := rec.onFirst
		rec.onFirst = nil
		rec.mu.Unlock()
		if f != nil {
			f()
		}
	}))
	t.Cleanup(hook.Close)
	rec.url = hook.URL
	return rec
}

func (rec *hookRecorder) beforeFirstAnswer(f func()) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.onFirst = f
}

// deliveries returns those whose subject names point.
func (rec *hookRecorder) deliveries(point string) []delivery {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []delivery
	for _, d := range rec.got {
		if strings.Contains(d.subject, point) {
			out = append(out, d)
		}
	}
	return out
}

func claim(t *testing.T, r *owner.Registry, site string) {
	t.Helper()
	if _, err := r.Claim(context.Background(), site); err != nil {
		t.Fatal(err)
	}
}

func wantOnce(t *testing.T, got []delivery, by string) {
	t.Helper()
	if len(got) != 1 || got[0].by != by {
		t.Fatalf("deliveries %+v, want one by %s", got, by)
	}
}

// ownerConfig pages officer at once about every alarm of the park; the
// webhook posts to the path name, so the receiver tells the aggregators
// apart (the notification ids do not differ).
func ownerConfig(url, name string) notify.Config {
	cfg := webhookConfig(url)
	cfg.Name = name
	cfg.Rules[0].Steps = cfg.Rules[0].Steps[:1]
	cfg.Recipients["officer"] = notify.Recipient{Type: notify.TypeWebhook, URL: url + "/" + name}
	return cfg
}

// ownerNotifier is the notifier of an aggregator following its owner
// registry.
func ownerNotifier(cfg notify.Config, st *store.Store, reg *owner.Registry, clk *clock, afterDecide func()) *notify.Notifier {
	return notify.New(cfg, st, st, &acks{}, notify.NewSenders(cfg, nil),
		notify.Options{Now: clk.Now, Owners: reg, AfterDecide: afterDecide},
		notify.NewMetrics(nil), slog.New(slog.DiscardHandler))
}

// With owners, each notifier keeps flood summaries of its own and sends
// them; the flood count per recipient spans both.
func TestOwnersFloodSummaries(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	err := st.SaveRegistry(ctx, []store.Enterprise{
		{SiteID: "hd-chem", Code: "E1", Name: "华东化工", Park: "化工园区"},
		{SiteID: "hb-chem", Code: "E2", Name: "华北化工", Park: "化工园区"},
	}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	reg1, reg2 := owner.New(st, "agg-1", logger), owner.New(st, "agg-2", logger)
	claim(t, reg1, "hd-chem")
	claim(t, reg2, "hb-chem")
	in := newInbox(t)
	clk := &clock{t: time.Now().Truncate(10 * time.Minute).Add(time.Minute)}
	var ns []*notify.Notifier
	for _, a := range []struct {
		name string
		reg  *owner.Registry
	}{{"agg-1", reg1}, {"agg-2", reg2}} {
		cfg := ownerConfig(in.URL, a.name)
		cfg.Flood.Limit = 1
		ns = append(ns, ownerNotifier(cfg, st, a.reg, clk, nil))
	}
	var events []store.AlarmEvent
	for i := range 3 {
		a, b := alarmAt("A"+itoa(i), clk.Now().Add(-time.Duration(3-i)*time.Second)), alarmAt("B"+itoa(i), clk.Now())
		b.SiteID = "hb-chem"
		events = append(events, a, b)
	}
	if err := st.SaveAlarmEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	poll(t, ns[0])
	poll(t, ns[1])
	if n1, n2 := len(in.of("agg-1")), len(in.of("agg-2")); n1 != 1 || n2 != 0 {
		t.Fatalf("within the window agg-1 sent %d, agg-2 %d; want the first alarm only", n1, n2)
	}
	clk.Add(10 * time.Minute)
	for range 2 {
		poll(t, ns[0])
		poll(t, ns[1])
	}
	one, two := in.of("agg-1"), in.of("agg-2")
	if len(one) != 2 || !strings.Contains(one[1].Subject, "另有 2 条报警") {
		t.Errorf("agg-1 sent %+v, want the alarm and a summary of 2", one)
	}
	if len(two) != 1 || !strings.Contains(two[0].Subject, "另有 3 条报警") {
		t.Errorf("agg-2 sent %+v, want one summary of 3", two)
	}
}

func itoa(i int) string { return string(rune('0' + i)) }
