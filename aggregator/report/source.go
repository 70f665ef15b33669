package report

import (
	"context"
	"time"

	"github.com/lifeline-telemetry/lifeline/aggregator/store"
)

// Source is what a report reads; *store.Store implements it.
type Source interface {
	alarmSource
	coverageSource
}

type alarmSource interface {
	ReportSites(ctx context.Context, park, site string) ([]store.ReportSite, error)
	ReportAlarms(ctx context.Context, sites []string, from, to time.Time) ([]store.ReportAlarm, error)
	ReportAcknowledged(ctx context.Context, sites []string, raisedFrom, before time.Time) (map[store.AlarmKey]bool, error)
	ReportHazards(ctx context.Context, sites []string) ([]store.HazardName, error)
}

type coverageSource interface {
	ReportOnline(ctx context.Context, sites []string, from, to time.Time) ([]store.SiteOnline, error)
	ReportGaps(ctx context.Context, sites []string, from, to time.Time) ([]store.ReportGap, error)
	ReportOutOfServicePoints(ctx context.Context, sites []string, from, to time.Time) ([]store.ReportOutOfService, error)
}
