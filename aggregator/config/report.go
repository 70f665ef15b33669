package config

import (
	"errors"
	"fmt"
	"net/mail"
	"time"
)

// Report configures the daily report (日报) and its schedule: each park
// listed in Parks gets the report of its previous day, once, after At in
// its time zone. The schedule runs only when the aggregator has a mailer.
type Report struct {
	// At is the time of day (HH:MM, the park's zone) from which
	// yesterday's report is sent.
	At string `yaml:"at"`
	// TimeZone is the IANA zone a park's day is read in, unless the park
	// names its own.
	TimeZone string `yaml:"time_zone"`
	// Format is pdf (an attachment, with the HTML as the mail's body) or
	// html (the body only).
	Format string `yaml:"format"`
	// Chromium is the browser that prints PDFs; empty: chromium on PATH.
	Chromium string `yaml:"chromium"`
	// Parks maps a park to who receives its report.
	Parks map[string]ReportPark `yaml:"parks"`
}

// ReportPark is who receives a park's daily report.
type ReportPark struct {
	Recipients []string `yaml:"recipients"`
	TimeZone   string   `yaml:"time_zone"` // empty: report.time_zone
}

// DefaultReport is the report section's defaults.
func DefaultReport() Report {
	return Report{At: "07:00", TimeZone: "Asia/Shanghai", Format: "pdf"}
}

// Zone returns the time zone of park's days.
func (r Report) Zone(park string) (*time.Location, error) {
	name := r.TimeZone
	if p, ok := r.Parks[park]; ok && p.TimeZone != "" {
		name = p.TimeZone
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("report time zone %q: %w", name, err)
	}
	return z, nil
}

// TimeOfDay returns At as an offset from midnight.
func (r Report) TimeOfDay() (time.Duration, error) {
	t, err := time.Parse("15:04", r.At)
	if err != nil {
		return 0, fmt.Errorf("report.at %q: want HH:MM", r.At)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

func (r Report) validate() error {
	var errs []error
	if _, err := r.TimeOfDay(); err != nil {
		errs = append(errs, err)
	}
	if _, err := time.LoadLocation(r.TimeZone); err != nil || r.TimeZone == "" {
		errs = append(errs, fmt.Errorf("report.time_zone %q: want an IANA zone such as Asia/Shanghai", r.TimeZone))
	}
	if r.Format != "pdf" && r.Format != "html" {
		errs = append(errs, fmt.Errorf("report.format %q: want pdf or html", r.Format))
	}
	for park, p := range r.Parks {
		if park == "" {
			errs = append(errs, errors.New("report.parks: a park without a name"))
		}
		if p.TimeZone != "" {
			if _, err := time.LoadLocation(p.TimeZone); err != nil {
				errs = append(errs, fmt.Errorf("report.parks.%s.time_zone %q: want an IANA zone", park, p.TimeZone))
			}
		}
		if len(p.Recipients) == 0 {
			errs = append(errs, fmt.Errorf("report.parks.%s.recipients: want at least one address", park))
		}
		for _, to := range p.Recipients {
			if a, err := mail.ParseAddress(to); err != nil || a.Name != "" {
				errs = append(errs, fmt.Errorf("report.parks.%s.recipients: %q is not a mail address", park, to))
			}
		}
	}
	return errors.Join(errs...)
}
