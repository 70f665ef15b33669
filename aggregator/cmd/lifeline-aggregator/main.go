// Command lifeline-aggregator receives plant agents' telemetry streams and
// stores them in ClickHouse.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/service"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

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
		Version:      version,
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
			return service.New(cfg, obs.NewLogger(cfg.Log, os.Stderr)).Run(ctx)
		},
	}
	migrate := &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the ClickHouse schema, then exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			st := store.New(cfg.Store(), obs.NewLogger(cfg.Log, os.Stderr))
			defer st.Close()
			if err := st.Open(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schema up to date in %s database %s\n", cfg.ClickHouse.Addr, cfg.ClickHouse.Database)
			return nil
		},
	}
	root.AddCommand(newCertsCmd())
	root.AddCommand(run, migrate)
	root.AddCommand(newProvision(&path))
	root.AddCommand(newRollups(&path))
	root.AddCommand(newReinject(&path))
	return root
}
