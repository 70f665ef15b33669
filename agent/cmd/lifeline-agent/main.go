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
// The agent's live heap is small (~35 MB at 100,000 samples/s in
// BenchmarkPipeline, ~55-60 MB with the OPC UA reader's state for 10,000
// points) but it allocates fast (decoded OPC UA values, batches). GOGC 50
// held the heap to 1.5× the live heap at every load, and when the agent is
// nearly idle (polling 10,000 points once a second) the frequent
// collections took much of its CPU; GOGC 100 lets a light agent collect
// half as often. The limit caps a busy agent's heap. Measured with make
// bench (agent section, ~90,000 samples/s read, same session): 80 MiB held
// the resident set to ~110 MB but the collector then ran so often that
// the agent read 15-25 % fewer samples at ~20 % more CPU per sample (as
// when an 80 MiB limit was tried before); 120 MiB cost nothing measurable
// against no limit (0.42-0.44 cores per 100,000 samples/s) and held the
// resident set to 129-164 MB against 139-203 MB without it.
const (
	agentGCPercent   = 100
	agentMemoryLimit = 120 << 20
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
