package service

import (
	"context"
	"slices"
	"sync"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
	"github.com/lifeline-telemetry/lifeline/aggregator/report"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// SetReportMailer gives the aggregator the mailer its daily reports are
// sent with; by default they go through notify.smtp. Without either, or
// without parks under report.parks, the schedule does not run. Call
// before Run.
func (a *Aggregator) SetReportMailer(m report.Mailer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mailer = m
}

// startReports runs the daily report schedule until ctx ends or stop is
// called; stop waits for it and may be called more than once.
func (a *Aggregator) startReports(ctx context.Context, st *store.Store, metrics *report.Metrics) (stop func()) {
	a.mu.Lock()
	mailer := a.mailer
	a.mu.Unlock()
	if mailer == nil && a.cfg.Notify.SMTP.Addr != "" {
		mailer = reportMail{notify.MailServer(a.cfg.Notify, nil)}
	}
	logger := a.logger.With("component", "report")
	if mailer == nil || len(a.cfg.Report.Parks) == 0 {
		logger.Info("daily report schedule off: no mailer or no parks under report.parks")
		return func() {}
	}
	opts, err := scheduleOptions(a.cfg.Report)
	if err != nil { // validated with the configuration; not reached
		logger.Error("daily report schedule off", "err", err)
		return func() {}
	}
	opts.Metrics = metrics
	sch := report.NewSchedule(st, st, mailer, opts, logger)
	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	running.Go(func() { _ = sch.Run(ctx) })
	return sync.OnceFunc(func() {
		cancel()
		running.Wait()
	})
}

// reportMail sends daily reports through the notifier's SMTP server.
type reportMail struct{ smtp *channel.SMTP }

func (m reportMail) Send(ctx context.Context, to []string, subject, html string, attachments ...report.Attachment) error {
	atts := make([]channel.Attachment, len(attachments))
	for i, a := range attachments {
		atts[i] = channel.Attachment{Name: a.Name, ContentType: a.ContentType, Data: a.Data}
	}
	return m.smtp.SendHTML(ctx, to, "", subject, html, atts...)
}

// scheduleOptions turns the report section into the schedule's options,
// parks in name order.
func scheduleOptions(c config.Report) (report.ScheduleOptions, error) {
	at, err := c.TimeOfDay()
	if err != nil {
		return report.ScheduleOptions{}, err
	}
	opts := report.ScheduleOptions{At: at, Format: c.Format, Chromium: c.Chromium}
	names := make([]string, 0, len(c.Parks))
	for name := range c.Parks {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		zone, err := c.Zone(name)
		if err != nil {
			return report.ScheduleOptions{}, err
		}
		opts.Parks = append(opts.Parks, report.Park{Name: name, Recipients: c.Parks[name].Recipients, Zone: zone})
	}
	return opts, nil
}
