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

// agentGCPercent is the agent's GOGC unless the environment sets one.
// The agent's live heap is small (~50 MB at 100,000 samples/s, most of it
// Badger's memtables and table builders) but it allocates fast (decoded
// OPC UA values, batches), so Go's default of 100 lets the heap double
// before each collection. Measured with make bench (10,000 points at
// 10 Hz): 100 → RSS 113–136 MB at 0.34 cores, 50 → 96 MB at 0.40 cores.
const agentGCPercent = 50

func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(agentGCPercent)
	}
}

func runContext(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
}

func printf(cmd *cobra.Command, format string, args ...any) {
	fmt.Fprintf(cmd.OutOrStdout(), format, args...)
}
