package report_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/lifeline-telemetry/lifeline/aggregator/report"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/storetest"
)

// outbox is a Mailer that keeps what it is given (the SMTP sender is the
// notifications' and tested there).
type outbox struct {
	mu   sync.Mutex
	fail error
	sent []mail
}

type mail struct {
	to            []string
	subject, body string
	files         []report.Attachment
}

func (o *outbox) Send(_ context.Context, to []string, subject, body string, files ...report.Attachment) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.sent = append(o.sent, mail{to, subject, body, files})
	return nil
}

func (o *outbox) subjects() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, m := range o.sent {
		out = append(out, m.subject)
	}
	return out
}

func local(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation(time.DateTime, s, shanghai)
	must(t, err)
	return v
}

// The schedule sends a park's report of yesterday once, from 07:00 in the
// park's zone; a restart (a new Schedule on the same ledger) does not send
// it again, and after days stopped sends each missed day in order.
func TestScheduleSendsEachDayOnce(t *testing.T) {
	s := storetest.Open(t)
	sd := seedDay(t, s, false)
	want := count(sd, "P1")
	box := &outbox{}
	reg := prometheus.NewRegistry()
	opts := report.ScheduleOptions{At: 7 * time.Hour, Format: "html", Metrics: report.NewMetrics(reg),
		Parks: []report.Park{{Name: "P1", Recipients: []string{"safety@example.com", "duty@example.com"}, Zone: shanghai}}}
	newSchedule := func() *report.Schedule {
		return report.NewSchedule(s, s, box, opts, slog.New(slog.DiscardHandler))
	}
	ctx := context.Background()
	run := func(sch *report.Schedule, at string, wantSent int) {
		t.Helper()
		n, err := sch.RunDue(ctx, local(t, at))
		if err != nil {
			t.Fatalf("at %s: %v", at, err)
		}
		if n != wantSent {
			t.Fatalf("at %s: sent %d, want %d (all sent: %q)", at, n, wantSent, box.subjects())
		}
	}
	sch := newSchedule()
	run(sch, "2026-03-03 06:59:59", 0)
	run(sch, "2026-03-03 07:00:00", 1)
	m := box.sent[0]
	if !slices.Equal(m.to, opts.Parks[0].Recipients) || !strings.Contains(m.subject, "2026-03-02") || len(m.files) != 0 {
		t.Fatalf("mail: to %v, subject %q, %d attachments", m.to, m.subject, len(m.files))
	}
	if !strings.Contains(m.body, `合计 Park total</td><td class="n">`+strconv.Itoa(want.alarms["S1"]+want.alarms["S2"])+"<") {
		t.Error("the mailed report does not show the park's alarm count")
	}
	run(sch, "2026-03-03 07:30:00", 0)
	run(sch, "2026-03-03 23:59:59", 0)
	run(newSchedule(), "2026-03-03 08:00:00", 0) // restarted the same day

	// Stopped until 09:00 on the 6th: the 3rd, 4th and 5th go, in order.
	run(newSchedule(), "2026-03-06 09:00:00", 3)
	got := box.subjects()[1:]
	for i, day := range []string{"2026-03-03", "2026-03-04", "2026-03-05"} {
		if !strings.Contains(got[i], day) {
			t.Errorf("mail %d: %q, want the report of %s", i+1, got[i], day)
		}
	}

	// A failed mail is not recorded: the day goes at the next attempt.
	box.fail = errors.New("smtp: 451 try later")
	if n, err := newSchedule().RunDue(ctx, local(t, "2026-03-07 07:05:00")); err == nil || n != 0 {
		t.Fatalf("with the mailer failing: %d sent, err %v", n, err)
	}
	box.fail = nil
	run(newSchedule(), "2026-03-07 07:10:00", 1)
	run(newSchedule(), "2026-03-07 07:15:00", 0)
	if n := len(box.sent); n != 5 {
		t.Fatalf("%d mails in all, want 5: %q", n, box.subjects())
	}
	for name, want := range map[string]float64{"lifeline_report_sent_total": 5, "lifeline_report_failures_total": 1} {
		if got := counter(t, reg, name, "P1"); got != want {
			t.Errorf("%s{park=P1} = %v, want %v", name, got, want)
		}
	}
}

// A PDF schedule attaches the printed report.
func TestScheduleAttachesPDF(t *testing.T) {
	chromium := tool(t, "chromium", "chromium", "chromium-browser")
	s := storetest.Open(t)
	seedDay(t, s, false)
	box := &outbox{}
	sch := report.NewSchedule(s, s, box, report.ScheduleOptions{At: 7 * time.Hour, Format: "pdf", Chromium: chromium,
		Parks: []report.Park{{Name: "P1", Recipients: []string{"safety@example.com"}, Zone: shanghai}}}, slog.New(slog.DiscardHandler))
	if n, err := sch.RunDue(context.Background(), local(t, "2026-03-03 07:00:00")); err != nil || n != 1 {
		t.Fatalf("sent %d: %v", n, err)
	}
	files := box.sent[0].files
	if len(files) != 1 || files[0].ContentType != "application/pdf" || !bytes.HasPrefix(files[0].Data, []byte("%PDF-")) ||
		files[0].Name != "lifeline-report-P1-2026-03-02.pdf" {
		t.Fatalf("attachments: %d, first %q %q", len(files), files[0].Name, files[0].ContentType)
	}
}

// Run sends what is due at start and stops, leaving no goroutine, when
// its context ends.
func TestScheduleRunStops(t *testing.T) {
	s := storetest.Open(t)
	seedDay(t, s, false)
	ignore := goleak.IgnoreCurrent()
	box := &outbox{}
	sch := report.NewSchedule(s, s, box, report.ScheduleOptions{At: 0, Format: "html",
		Parks: []report.Park{{Name: "P1", Recipients: []string{"safety@example.com"}, Zone: shanghai}}}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sch.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for len(box.subjects()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	yesterday := time.Now().In(shanghai).AddDate(0, 0, -1).Format(time.DateOnly)
	if got := box.subjects(); len(got) != 1 || !strings.Contains(got[0], yesterday) {
		t.Fatalf("sent %q, want the report of %s", got, yesterday)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	goleak.VerifyNone(t, ignore)
}

// counter reads a counter of reg with label park.
func counter(t *testing.T, reg *prometheus.Registry, name, park string) float64 {
	t.Helper()
	families, err := reg.Gather()
	must(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "park" && l.GetValue() == park {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
