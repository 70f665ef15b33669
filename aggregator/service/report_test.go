package service

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/report"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

type outbox struct {
	mu       sync.Mutex
	subjects []string
}

func (o *outbox) Send(_ context.Context, _ []string, subject, _ string, _ ...report.Attachment) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.subjects = append(o.subjects, subject)
	return nil
}

func (o *outbox) sent() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.subjects...)
}

// With a mailer and a park under report.parks the aggregator mails the
// park's report of yesterday; without a mailer it sends nothing.
func TestReportScheduleRunsOnlyWithAMailer(t *testing.T) {
	addr := chtest.Addr(t)
	for _, withMailer := range []bool{false, true} {
		db := chtest.Database(t, addr)
		cfg := config.Default()
		cfg.Server.Listen, cfg.Server.TLS.Insecure, cfg.Metrics.Listen = "127.0.0.1:0", true, "127.0.0.1:0"
		cfg.ClickHouse.Addr, cfg.ClickHouse.Database = addr, db
		cfg.Report.At, cfg.Report.Format = "00:00", "html"
		cfg.Report.Parks = map[string]config.ReportPark{"RP": {Recipients: []string{"duty@example.com"}}}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		st := store.New(cfg.Store(), slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(context.Background())
		if err := st.Open(ctx); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveCatalog(ctx, "RS1", "RP", "test", []*lifelinev1.Point{{Id: "L1", Kind: "level"}}); err != nil {
			t.Fatal(err)
		}
		agg := New(cfg, slog.New(slog.DiscardHandler))
		box := &outbox{}
		if withMailer {
			agg.SetReportMailer(box)
		}
		done := make(chan error, 1)
		go func() { done <- agg.Run(ctx) }()
		<-agg.Ready()
		if !withMailer {
			time.Sleep(time.Second)
		}
		// The day is recorded just after its mail is sent.
		last, err := st.ReportDelivered(ctx, "RP")
		for deadline := time.Now().Add(30 * time.Second); withMailer && err == nil && last == "" && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			last, err = st.ReportDelivered(ctx, "RP")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		yesterday := time.Now().In(mustShanghai(t)).AddDate(0, 0, -1).Format(time.DateOnly)
		switch got := box.sent(); {
		case withMailer && (len(got) != 1 || !strings.Contains(got[0], yesterday) || last != yesterday):
			t.Errorf("with a mailer: sent %q, recorded %q; want the report of %s", got, last, yesterday)
		case !withMailer && last != "":
			t.Errorf("without a mailer the report of %s is recorded sent", last)
		}
	}
}

func mustShanghai(t *testing.T) *time.Location {
	z, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return z
}
