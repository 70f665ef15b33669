package service

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/aggregator/store/chtest"
	lifelinev1 "github.com/lifeline-telemetry/lifeline/proto/lifeline/v1"
)

// mailDrop is an SMTP server on loopback that keeps what it is sent.
type mailDrop struct {
	mu    sync.Mutex
	rcpts []string
	data  []string
}

func (d *mailDrop) NewSession(*smtp.Conn) (smtp.Session, error) { return &dropSession{d: d}, nil }

type dropSession struct{ d *mailDrop }

func (s *dropSession) Reset()                               {}
func (s *dropSession) Logout() error                        { return nil }
func (s *dropSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *dropSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.rcpts = append(s.d.rcpts, to)
	return nil
}

func (s *dropSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	s.d.data = append(s.d.data, string(b))
	return err
}

func (d *mailDrop) mails() ([]string, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.rcpts...), append([]string(nil), d.data...)
}

// Without a mailer of its own, the aggregator mails the daily report
// through the notifications' SMTP server, to the park's recipients, with a
// Chinese subject.
func TestReportMailedThroughNotifySMTP(t *testing.T) {
	drop := &mailDrop{}
	srv := smtp.NewServer(drop)
	srv.Domain = "localhost"
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() { _ = srv.Close() })

	addr := chtest.Addr(t)
	cfg := config.Default()
	cfg.Server.Listen, cfg.Server.TLS.Insecure, cfg.Metrics.Listen = "127.0.0.1:0", true, "127.0.0.1:0"
	cfg.ClickHouse.Addr, cfg.ClickHouse.Database = addr, chtest.Database(t, addr)
	cfg.Report.At, cfg.Report.Format = "00:00", "html"
	cfg.Report.Parks = map[string]config.ReportPark{"RP": {Recipients: []string{"duty@example.com", "safety@example.com"}}}
	cfg.Notify.SMTP.Addr, cfg.Notify.SMTP.TLS, cfg.Notify.SMTP.From = lis.Addr().String(), channel.TLSNone, "lifeline@example.com"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st := store.New(cfg.Store(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := st.Open(ctx); err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.SaveCatalog(ctx, "RS1", "RP", "test", []*lifelinev1.Point{{Id: "L1", Kind: "level"}}); err != nil {
		t.Fatal(err)
	}
	agg := New(cfg, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- agg.Run(ctx) }()
	<-agg.Ready()
	var rcpts, data []string
	for deadline := time.Now().Add(30 * time.Second); len(data) == 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		rcpts, data = drop.mails()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(data) != 1 || strings.Join(rcpts, ",") != "duty@example.com,safety@example.com" {
		t.Fatalf("mails %d to %q, want one to both recipients", len(data), rcpts)
	}
	var subject string
	for _, line := range strings.Split(data[0], "\r\n") {
		if s, ok := strings.CutPrefix(line, "Subject: "); ok {
			subject, err = new(mime.WordDecoder).DecodeHeader(s)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	yesterday := time.Now().In(mustShanghai(t)).AddDate(0, 0, -1).Format(time.DateOnly)
	if !strings.Contains(subject, "日报") || !strings.Contains(subject, yesterday) {
		t.Fatalf("subject %q, want the 日报 of %s", subject, yesterday)
	}
}
