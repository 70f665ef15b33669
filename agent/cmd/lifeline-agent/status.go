package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/proto/obs/scrape"
)

func newStatusCmd() *cobra.Command {
	var (
		path     string
		watch    bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running agent's link, backlog, drain rate and ETA",
		Long: "status reads the running agent's metrics endpoint (metrics.listen in its config).\n" +
			"In a terminal, or with --watch, it shows a live progress bar of the backlog drain\n" +
			"until the backlog is empty or you press Ctrl-C.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadFor(path, config.MetricsSection)
			if err != nil {
				return err
			}
			if cfg.Metrics.Listen == "" {
				return fmt.Errorf("metrics.listen is empty in %s: the agent exposes no status", path)
			}
			url := "http://" + cfg.Metrics.Listen + "/metrics"
			ctx, stop := runContext(cmd)
			defer stop()
			m, err := scrapeAgent(ctx, url)
			if err != nil {
				return err
			}
			printStatus(cmd.OutOrStdout(), cfg.Site.ID, cfg.Metrics.Listen, m)
			if !watch && !isTerminal(cmd.OutOrStdout()) {
				return nil
			}
			return watchDrain(ctx, cmd.OutOrStdout(), url, m, interval)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", config.DefaultPaths().Config, "the agent's configuration file")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow the backlog drain (default in a terminal)")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "refresh interval when watching")
	return cmd
}

// metrics are the agent's gauges and counters by name, summed over their
// labels; a metric labelled by source is also kept per source, under
// "name/source".
type metrics = scrape.Values

func scrapeAgent(ctx context.Context, url string) (metrics, error) {
	m, err := scrape.Get(ctx, url, "source", "aggregator")
	if err != nil {
		return nil, fmt.Errorf("read agent status: %w", err)
	}
	return m, nil
}

func printStatus(w io.Writer, site, addr string, m metrics) {
	connected := m[service.MetricUplinkConnected] == 1
	link := "disconnected"
	if connected {
		link = "connected"
		if m[service.MetricUplinkDraining] == 1 {
			link += ", sending backlog beside live data"
		}
	}
	fmt.Fprintf(w, "agent %s (metrics %s)\n", site, addr)
	fmt.Fprintf(w, "  aggregator  %s%s (reconnects %.0f)\n", link, aggregatorText(m, connected), m[service.MetricUplinkReconnectsTotal])
	if ns := m[service.MetricLinkCertNotAfterSeconds]; ns > 0 {
		if msg := service.CertExpiryWarning(time.Unix(int64(ns), 0), time.Now()); msg != "" {
			fmt.Fprintf(w, "  WARNING     %s\n", msg)
		}
	}
	printSources(w, m)
	fmt.Fprintf(w, "  backlog     %.0f batches, %s, ~%s samples, oldest %s\n",
		m[service.MetricBufferBatches], scrape.Bytes(m[service.MetricBufferBytes]),
		scrape.Count(m[service.MetricBacklogSamples]), scrape.Duration(m[service.MetricBacklogOldestAgeSeconds]))
	if line := diskText(m); line != "" {
		fmt.Fprintf(w, "  disk        %s\n", line)
	}
	fmt.Fprintf(w, "  drain       %s\n", drainText(m, connected))
	fmt.Fprintf(w, "  samples     read %s, buffered %s, acked %s, refused %s, dropped %s\n",
		scrape.Count(m[service.MetricSamplesReadTotal]), scrape.Count(m[service.MetricSamplesBufferedTotal]),
		scrape.Count(m[service.MetricSamplesAckedTotal]), scrape.Count(m[service.MetricSamplesRejectedTotal]),
		scrape.Count(m[service.MetricSamplesDroppedTotal]))
	if nacks, aside := m[service.MetricUplinkNacksTotal], m[service.MetricSamplesSetAsideTotal]; nacks > 0 || aside > 0 {
		fmt.Fprintf(w, "  refusals    %.0f batches not committed (kept, sent again), %s samples set aside by ClickHouse (see the agent log)\n",
			nacks, scrape.Count(aside))
	}
}

// watchDrain redraws a progress bar of the backlog until it is empty.
func watchDrain(ctx context.Context, w io.Writer, url string, first metrics, every time.Duration) error {
	start := first[service.MetricBacklogSamples]
	t := time.NewTicker(every)
	defer t.Stop()
	m := first
	for {
		left := m[service.MetricBacklogSamples]
		start = max(start, left)
		fmt.Fprintf(w, "\r%s", progressLine(start, left, m[service.MetricDrainRateSamplesPerSecond], m[service.MetricBacklogETASeconds]))
		if m[service.MetricBufferBatches] == 0 {
			fmt.Fprintln(w, "\nbacklog empty")
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(w)
			return nil
		case <-t.C:
		}
		next, err := scrapeAgent(ctx, url)
		if err != nil {
			fmt.Fprintln(w)
			return err
		}
		m = next
	}
}

func progressLine(start, left, rate, eta float64) string {
	const width = 30
	done := 1.0
	if start > 0 {
		done = (start - left) / start
	}
	filled := int(done * width)
	bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	return fmt.Sprintf("[%s] %3.0f%%  %s samples left  %s/s  ETA %s   ", bar, done*100, scrape.Count(left), scrape.Count(rate), scrape.Duration(eta))
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
