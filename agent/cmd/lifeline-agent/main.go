// Command lifeline-agent reads a plant's OPC UA points, keeps every sample
// on disk, and streams them to a Lifeline aggregator.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/service"
	"github.com/lifeline-telemetry/lifeline/proto/buildinfo"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// version is stamped at link time; see proto/buildinfo.
var version = buildinfo.Version

func main() {
	if err := runMain(newRoot()); err != nil {
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "lifeline-agent",
		Short:         "Collect plant safety telemetry over OPC UA and forward it to a Lifeline aggregator",
		Version:       buildinfo.Get().String(),
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newRunCmd(), newCheckCmd(), newStatusCmd(), newCertsCmd(), newBrowseCmd(), newPointsCmd(), newServiceCmd())
	return root
}

func newRunCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the agent until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			if p := config.Placeholders(cfg); len(p) > 0 {
				return fmt.Errorf("config %s: still the example: %s", path, strings.Join(p, "; "))
			}
			logger, level := obs.NewLevelLogger(cfg.Log, cmd.ErrOrStderr())
			for _, w := range config.Warnings(path, cfg) {
				logger.Warn(w)
			}
			setGCPercent()
			ctx, stop := runContext(cmd)
			defer stop()
			agent := service.New(cfg, version, logger, service.WithLogLevel(level))
			stopReloads := obs.OnHangup(ctx, func(ctx context.Context) {
				logger.Info("SIGHUP: reloading the configuration", "file", path)
				_ = agent.Reload(ctx, path) // Reload logs the outcome
			})
			defer stopReloads()
			return agent.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", config.DefaultPaths().Config, "configuration file")
	return cmd
}

// agentGCPercent and agentMemoryLimit are the agent's GOGC and soft
// memory limit (GOMEMLIMIT) unless the environment sets them.
//
// The agent's live heap is small (~30 MB at 100,000 samples/s from 10,000
// points, after a collection) but it allocates fast (~1 KB per sample:
// decoded OPC UA values, batches, Badger's tables). GOGC 50 held the heap
// to 1.5× the live heap at every load, and when the agent is nearly idle
// (polling 10,000 points once a second) the frequent collections took
// much of its CPU; GOGC 100 lets a light agent collect half as often. The
// limit caps a busy agent's heap, and makes the runtime hand freed pages
// back to the system instead of keeping them for the next burst. The
// resident set is this plus ~25-35 MB of file pages (the binary's ~20 MB,
// Badger's mapped tables and log), so a 100 MB budget leaves the Go
// runtime ~70 MB. Measured with make bench (agent section, 100,000
// samples/s, 2 cores shared with plantsim, the aggregator and ClickHouse;
// one run each unless a range is given, on a busy machine): 120 MiB gave
// an agent RSS (max) of 105-152 MB at 0.23-0.30 cores; 72 MiB 92.7-100 MB
// at 0.31-0.41 cores, and 90.8-97.3 MB at 0.32-0.34 cores with two L0
// tables (see agent/buffer; five runs, every sample delivered but in one
// where the buffer held the readers back for 18 s and 7 % were lost, as
// the 120 MiB agent came close to in another busy run). The price is
// headroom: at 150,000 samples/s the limit binds, the agent took 0.57-0.75
// cores instead of 0.26-0.39 and delivered 103,000-150,000 samples/s
// (120 MiB: 102,000-150,000, and 150,000 in the session where 72 MiB
// delivered 123,000 and 103,000). 68 MiB gave 91.7 MB at 0.40 cores;
// 64 MiB 86.7-93.9 MB at 0.27-0.44 cores, and at 150,000 samples/s only
// 67,000-120,000 delivered. Held to 0.1 core (agentlimits section) the
// agent peaked at 98-107 MB with 72 MiB (90.6 MB with 68) against
// 136-150 MB with 120, reading 22,000-27,000 samples/s against
// 27,000-35,000. Earlier
// (before the readers' and the batcher's allocations were cut) 80 MiB had
// cost 15-25 % of the samples read.
const (
	agentGCPercent   = 100
	agentMemoryLimit = 72 << 20
)

func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(agentGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(agentMemoryLimit)
	}
}

func runContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

func printf(cmd *cobra.Command, format string, args ...any) {
	fmt.Fprintf(cmd.OutOrStdout(), format, args...)
}
