package report

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Mailer sends one mail. The notifications' SMTP sender implements it.
type Mailer interface {
	Send(ctx context.Context, to []string, subject string, htmlBody string, attachments ...Attachment) error
}

// Attachment is a file attached to a mail.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Ledger records which days' reports were sent, so a restart neither
// skips nor repeats a day; *store.Store implements it.
type Ledger interface {
	// ReportDelivered returns the last day (YYYY-MM-DD) sent, "" if none.
	ReportDelivered(ctx context.Context, park string) (string, error)
	SaveReportDelivery(ctx context.Context, park, day string, recipients []string, format string, at time.Time) error
}

// Park is a park whose daily report is sent.
type Park struct {
	Name       string
	Recipients []string
	Zone       *time.Location
}

// ScheduleOptions configure a Schedule.
type ScheduleOptions struct {
	At       time.Duration // time of day, in each park's zone, from which yesterday's report is due
	Format   string        // pdf or html
	Chromium string        // "" finds chromium on PATH
	Parks    []Park
	// CatchUp is how many past days a schedule that was stopped still
	// sends, oldest first; older days are skipped with a warning.
	CatchUp int
	// Retry is how long after a failure the schedule tries again.
	Retry time.Duration
	// Metrics, if not nil, count the reports sent and failed.
	Metrics *Metrics
}

// DefaultCatchUp and DefaultRetry apply when the options leave them 0.
const (
	DefaultCatchUp = 7
	DefaultRetry   = 5 * time.Minute
)

// Schedule sends each park's report of the previous day once, after the
// configured time of day. A day is recorded in the ledger after its mail
// is sent: a crash between the two sends that day again at the next start
// (at least once, never skipped).
type Schedule struct {
	src    Source
	ledger Ledger
	mailer Mailer
	opts   ScheduleOptions
	logger *slog.Logger
}

// NewSchedule returns a schedule; it does nothing until Run.
func NewSchedule(src Source, ledger Ledger, mailer Mailer, opts ScheduleOptions, logger *slog.Logger) *Schedule {
	if opts.CatchUp <= 0 {
		opts.CatchUp = DefaultCatchUp
	}
	if opts.Retry <= 0 {
		opts.Retry = DefaultRetry
	}
	return &Schedule{src: src, ledger: ledger, mailer: mailer, opts: opts, logger: logger}
}

// Run sends what is due at start, then at each park's time of day, until
// ctx ends.
func (s *Schedule) Run(ctx context.Context) error {
	for {
		wait := s.opts.Retry
		if _, err := s.RunDue(ctx, time.Now()); err == nil {
			wait = s.untilNext(time.Now())
		} else if ctx.Err() == nil {
			s.logger.Warn("daily report not sent; retrying", "err", err, "retry_in", wait)
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}

// untilNext is the time from now to the next time of day of any park.
func (s *Schedule) untilNext(now time.Time) time.Duration {
	next := time.Duration(24 * time.Hour)
	for _, p := range s.opts.Parks {
		local := now.In(p.Zone)
		at := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, p.Zone).Add(s.opts.At)
		if !at.After(local) {
			at = time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, p.Zone).Add(s.opts.At)
		}
		next = min(next, at.Sub(local))
	}
	return next + time.Second
}

// RunDue sends, for every park, the reports due at now and not yet in the
// ledger, and returns how many it sent. A park that fails is left for the
// next run; the others go on.
func (s *Schedule) RunDue(ctx context.Context, now time.Time) (int, error) {
	sent := 0
	var errs []error
	for _, p := range s.opts.Parks {
		n, err := s.runPark(ctx, p, now)
		s.opts.Metrics.observe(p.Name, n, err)
		sent += n
		if err != nil {
			errs = append(errs, fmt.Errorf("park %s: %w", p.Name, err))
		}
	}
	return sent, errors.Join(errs...)
}

func (s *Schedule) runPark(ctx context.Context, p Park, now time.Time) (int, error) {
	days, err := s.due(ctx, p, now)
	if err != nil {
		return 0, err
	}
	for i, day := range days {
		if err := s.send(ctx, p, day, now); err != nil {
			return i, err
		}
		if err := s.ledger.SaveReportDelivery(ctx, p.Name, day, p.Recipients, s.opts.Format, now); err != nil {
			return i, fmt.Errorf("record report of %s (sent): %w", day, err)
		}
		s.logger.Info("daily report sent", "park", p.Name, "day", day, "recipients", len(p.Recipients))
	}
	return len(days), nil
}

// due lists the days of p to send at now, oldest first: those after the
// last one sent up to the last one due (yesterday once the time of day has
// passed, else the day before), at most CatchUp of them. With none sent
// yet, the first is yesterday: a new schedule starts with no backlog.
func (s *Schedule) due(ctx context.Context, p Park, now time.Time) ([]string, error) {
	local := now.In(p.Zone)
	day := func(back int) time.Time {
		return time.Date(local.Year(), local.Month(), local.Day()-back, 0, 0, 0, 0, p.Zone)
	}
	lastDue := day(1)
	if local.Before(day(0).Add(s.opts.At)) {
		lastDue = day(2)
	}
	last, err := s.ledger.ReportDelivered(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	first := day(1)
	if last != "" {
		sent, err := time.ParseInLocation(time.DateOnly, last, p.Zone)
		if err != nil {
			return nil, fmt.Errorf("last report day %q: %w", last, err)
		}
		first = time.Date(sent.Year(), sent.Month(), sent.Day()+1, 0, 0, 0, 0, p.Zone)
		oldest := time.Date(lastDue.Year(), lastDue.Month(), lastDue.Day()-s.opts.CatchUp+1, 0, 0, 0, 0, p.Zone)
		if first.Before(oldest) {
			s.logger.Warn("daily reports skipped: too far back", "park", p.Name, "from", first.Format(time.DateOnly),
				"to", oldest.AddDate(0, 0, -1).Format(time.DateOnly))
			first = oldest
		}
	}
	var days []string
	for d := first; !d.After(lastDue); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, p.Zone) {
		days = append(days, d.Format(time.DateOnly))
	}
	return days, nil
}

// send renders and mails the report of p for day.
func (s *Schedule) send(ctx context.Context, p Park, day string, now time.Time) error {
	r, err := Build(ctx, s.src, Request{Park: p.Name, Day: day, Zone: p.Zone}, now)
	if err != nil {
		return err
	}
	html, err := r.HTML()
	if err != nil {
		return err
	}
	var files []Attachment
	if s.opts.Format == "pdf" {
		pdf, err := PDF(ctx, s.opts.Chromium, html)
		if err != nil {
			return err
		}
		files = append(files, Attachment{Name: fmt.Sprintf("lifeline-report-%s-%s.pdf", p.Name, day),
			ContentType: "application/pdf", Data: pdf})
	}
	subject := fmt.Sprintf("%s %s / Daily report %s %s", r.Title(), day, p.Name, day)
	if err := s.mailer.Send(ctx, p.Recipients, subject, string(html), files...); err != nil {
		return fmt.Errorf("mail report of %s: %w", day, err)
	}
	return nil
}
