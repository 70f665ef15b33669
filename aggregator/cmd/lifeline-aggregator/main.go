// Command lifeline-aggregator receives plant agents' telemetry streams and
// stores them in ClickHouse.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/proto/buildinfo"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// version is stamped at link time; see proto/buildinfo.
var version = buildinfo.Version

func main() {
	if err := newRoot().Execute(); err != nil {
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var path string
	root := &cobra.Command{
		Use:          "lifeline-aggregator",
		Short:        "Receive Lifeline agents' streams and store them in ClickHouse",
		Version:      buildinfo.Get().String(),
		SilenceUsage: true,
	}
	root.PersistentFlags().StringVarP(&path, "config", "c", "", "configuration file (defaults apply when omitted; "+
		config.EnvClickHouseAddr+" and "+config.EnvClickHouseDatabase+" override it)")

	run := &cobra.Command{
		Use:   "run",
		Short: "Serve agents until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger, level := obs.NewLevelLogger(cfg.Log, os.Stderr)
			applyMemoryLimit(cfg.MemoryLimit, os.Getenv, cgroupMemoryLimit(cgroupV2Limit, cgroupV1Limit), logger)
			for _, w := range config.SecretWarnings(path) {
				logger.Warn(w)
			}
			if path != "" {
				r := &reloader{path: path, current: cfg, level: level, logger: logger}
				defer obs.OnHangup(ctx, r.reload)()
			}
			return service.New(cfg, logger).Run(ctx)
		},
	}
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the ClickHouse schema, then exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, cfg, err := openStore(cmd.Context(), path)
			if err != nil {
				return err
			}
			defer st.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "schema up to date in %s database %s\n", cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
			return nil
		},
	}
	root.AddCommand(newCertsCmd())
	root.AddCommand(run, migrate)
	root.AddCommand(newProvision(&path))
	root.AddCommand(newRollups(&path))
	root.AddCommand(newReinject(&path))
	root.AddCommand(newReadonlyUsers(&path))
	root.AddCommand(newStatusCmd(&path))
	root.AddCommand(newReportCmd(&path))
	root.AddCommand(newConsoleCmd())
	root.AddCommand(newNotifyTest(&path))
	root.AddCommand(newForwarder(&path))
	return root
}

// openStore loads the configuration at path (its clickhouse section; the
// server's certificates are not needed to reach ClickHouse) and opens its
// store, creating or upgrading the schema; the caller closes it.
func openStore(ctx context.Context, path string) (*store.Store, config.Config, error) {
	cfg, err := config.LoadFor(path, config.ClickHouseSection)
	if err != nil {
		return nil, cfg, err
	}
	st := store.New(cfg.Store(), obs.NewLogger(cfg.Log, os.Stderr))
	if err := st.Open(ctx); err != nil {
		st.Close()
		return nil, cfg, err
	}
	return st, cfg, nil
}
