package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/aggregator/report"
)

// newReportCmd is `report`: render the daily report (日报) of a park, or of
// one of its enterprises, for a day in the park's time zone.
func newReportCmd(path *string) *cobra.Command {
	var park, site, date, format, out, zone string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Render the daily report (日报) of a park or an enterprise as HTML or PDF",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if park == "" {
				return fmt.Errorf("--park is required")
			}
			if format != "html" && format != "pdf" {
				return fmt.Errorf("--format %q: want html or pdf", format)
			}
			st, cfg, err := openStore(cmd.Context(), *path)
			if err != nil {
				return err
			}
			defer st.Close()
			if zone != "" {
				cfg.Report.TimeZone = zone
			}
			loc, err := cfg.Report.Zone(park)
			if err != nil {
				return err
			}
			now := time.Now()
			if date == "" {
				y := now.In(loc)
				date = time.Date(y.Year(), y.Month(), y.Day()-1, 0, 0, 0, 0, loc).Format(time.DateOnly)
			}
			r, err := report.Build(cmd.Context(), st, report.Request{Park: park, Site: site, Day: date, Zone: loc}, now)
			if err != nil {
				return err
			}
			body, err := r.Render(cmd.Context(), format, cfg.Report.Chromium)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(body)
				return err
			}
			if err := os.WriteFile(out, body, 0o644); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s report of %s %s written to %s (%d bytes)\n", format, park, date, out, len(body))
			return nil
		},
	}
	cmd.Flags().StringVar(&park, "park", "", "the park (required)")
	cmd.Flags().StringVar(&site, "site", "", "one enterprise (site) of the park; default: all of them")
	cmd.Flags().StringVar(&date, "date", "", "the day, YYYY-MM-DD in the park's time zone (default: yesterday)")
	cmd.Flags().StringVar(&format, "format", "html", "html or pdf (PDF needs chromium)")
	cmd.Flags().StringVar(&out, "out", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&zone, "time-zone", "", "the zone of the day (default: report.time_zone or the park's own)")
	return cmd
}
