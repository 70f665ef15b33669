package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// newRollups is `rollups check|repair`: find rollup buckets that disagree
// with samples FINAL, and rebuild them.
func newRollups(path *string) *cobra.Command {
	var from, to, site string
	cmd := &cobra.Command{
		Use:   "rollups",
		Short: "Check the minute and hour rollups against the raw samples, or rebuild the buckets that disagree",
	}
	cmd.PersistentFlags().StringVar(&from, "from", "", "start of the period, RFC 3339 or YYYY-MM-DD (default: 24 h ago)")
	cmd.PersistentFlags().StringVar(&to, "to", "", "end of the period, RFC 3339 or YYYY-MM-DD (default: 1 h ago, so recent buckets still filling are left out)")
	cmd.PersistentFlags().StringVar(&site, "site", "", "one site only")

	run := func(repair bool) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			now := time.Now().UTC()
			start, err := parseWhen(from, now.Add(-24*time.Hour))
			if err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			end, err := parseWhen(to, now.Add(-time.Hour))
			if err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			if !end.After(start) {
				return fmt.Errorf("--to %s is not after --from %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
			}
			st, _, err := openStore(cmd.Context(), *path)
			if err != nil {
				return err
			}
			defer st.Close()
			drift, err := st.RollupDrift(cmd.Context(), start, end, site)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, d := range drift {
				fmt.Fprintf(out, "%s\t%s\t%s\t%s\trollup %d\traw %d\n", d.Table, d.SiteID, d.PointID,
					d.Bucket.UTC().Format(time.DateTime), d.Rollup, d.Raw)
			}
			fmt.Fprintf(out, "%d rollup buckets disagree with samples between %s and %s\n", len(drift),
				start.Format(time.RFC3339), end.Format(time.RFC3339))
			if !repair || len(drift) == 0 {
				if len(drift) > 0 {
					return fmt.Errorf("%d rollup buckets disagree; `rollups repair` with the same flags rebuilds them", len(drift))
				}
				return nil
			}
			if err := st.RepairRollups(cmd.Context(), drift); err != nil {
				return err
			}
			left, err := st.RollupDrift(cmd.Context(), start, end, site)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "rebuilt %d buckets; %d still disagree\n", len(drift), len(left))
			if len(left) > 0 {
				return fmt.Errorf("%d buckets still disagree (data arriving in them?); run again", len(left))
			}
			return nil
		}
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "List rollup buckets whose sample count differs from samples FINAL; exit 1 if any",
		Args:  cobra.NoArgs,
		RunE:  run(false),
	}, &cobra.Command{
		Use:   "repair",
		Short: "Rebuild the rollup buckets that differ from samples FINAL",
		Args:  cobra.NoArgs,
		RunE:  run(true),
	})
	return cmd
}

// parseWhen reads RFC 3339 or a date (UTC); empty gives def.
func parseWhen(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-03-02T08:00:00Z) or a date (2026-03-02)", s)
	}
	return t, nil
}
