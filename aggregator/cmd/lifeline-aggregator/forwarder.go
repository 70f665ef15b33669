package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/forward"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// errUnmapped makes `forwarder check` exit non-zero once it has printed
// what lacks a code.
var errUnmapped = errors.New("some sites or points have no code, or a template does not render: they are not sent")

// newForwarder groups the commands of the provincial forwarder.
func newForwarder(path *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "forwarder",
		Short: "Report base data, real-time values, alarms and heartbeats to provincial platforms (config: forward)",
	}
	cmd.AddCommand(newForwarderRun(path), newForwarderCheck(path), newForwarderCodes(path))
	return cmd
}

func newForwarderRun(path *string) *cobra.Command {
	var metricsListen string
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Forward to every configured target until interrupted",
		Long: `run sends each target of the forward section its messages from ClickHouse,
resuming from the target's cursor (forward_cursors). It serves Prometheus
metrics on --metrics-listen (empty: none), so it can run beside
'lifeline-aggregator run', which forwards itself when forward.targets is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadFor(*path, config.ClickHouseSection|config.ForwardSection)
			if err != nil {
				return err
			}
			if len(cfg.Forward.Targets) == 0 {
				return fmt.Errorf("forward.targets: none configured")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := obs.NewLogger(cfg.Log, os.Stderr).With("component", "forward")
			reg := prometheus.NewRegistry()
			ms := obs.NewServer(obs.MetricsConfig{Listen: metricsListen}, reg, logger)
			defer ms.ShutdownWithin(2 * time.Second)
			if err := ms.Start(ctx); err != nil {
				return err
			}
			st := store.New(cfg.Store(), logger)
			defer st.Close()
			if err := openStoreRetrying(ctx, st); err != nil {
				return err
			}
			return forward.New(cfg.Forward, st, nil, reg, logger).Run(ctx)
		},
	}
	cmd.Flags().StringVar(&metricsListen, "metrics-listen", "", "address of Prometheus /metrics (empty: none)")
	return cmd
}

// openStoreRetrying waits for ClickHouse, so the forwarder and its
// database may start in any order.
func openStoreRetrying(ctx context.Context, st *store.Store) error {
	for {
		err := st.Open(ctx)
		if err == nil {
			return nil
		}
		var perm *store.PermanentError
		if errors.As(err, &perm) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(2 * time.Second):
		}
	}
}

func newForwarderCheck(path *string) *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "List, per target, the sites and points without a province code and templates that do not render",
		Long: `check reads the registry and forward_codes, renders one message of each
kind per target and lists what would not be sent. It exits non-zero when a
site or point lacks a code or a template fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, cfg, err := openForwardStore(cmd.Context(), *path)
			if err != nil {
				return err
			}
			defer st.Close()
			checks, err := forward.Check(cmd.Context(), cfg.Forward, st)
			if err != nil {
				return err
			}
			if printChecks(cmd.OutOrStdout(), checks) {
				return nil
			}
			return errUnmapped
		},
	}
}

func printChecks(w io.Writer, checks []forward.TargetCheck) (ok bool) {
	ok = true
	for _, c := range checks {
		fmt.Fprintf(w, "target %s: %d sites, %d points reported\n", c.Name, c.Sites, c.Points)
		if c.Started {
			fmt.Fprintf(w, "  real-time sent up to %s (%s ago), backlog %s, %d gaps recorded (forward_gaps)\n",
				c.Live.UTC().Format(time.DateTime), time.Since(c.Live).Truncate(time.Second),
				time.Duration(c.BacklogS*float64(time.Second)).Truncate(time.Second), c.Gaps)
		} else {
			fmt.Fprintf(w, "  not started yet (no cursor)\n")
		}
		for _, s := range c.UnmappedSites {
			fmt.Fprintf(w, "  unmapped site (no enterprise code): %s\n", s)
		}
		for _, p := range c.UnmappedPoints {
			fmt.Fprintf(w, "  unmapped point (no point code): %s\n", p)
		}
		for _, p := range c.Problems {
			fmt.Fprintf(w, "  template: %s\n", p)
		}
		ok = ok && c.OK()
	}
	return ok
}

func newForwarderCodes(path *string) *cobra.Command {
	codes := &cobra.Command{Use: "codes", Short: "Manage the codes provinces assign (forward_codes)"}
	codes.AddCommand(&cobra.Command{
		Use:   "import FILE.csv",
		Short: "Load codes from CSV (target,kind,local_id,code[,name]; UTF-8 or GBK)",
		Long: `import reads a CSV file with the header target,kind,local_id,code[,name]:
kind is enterprise (local_id: the site id), hazard (site/hazard code) or
point (site/point id). Spreadsheets saved as GBK/GB18030 are read as such.
A row with an empty code withdraws the code.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			rows, err := forward.ParseCodes(data)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			st, _, err := openStore(cmd.Context(), *path)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.SaveForwardCodes(cmd.Context(), rows); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d codes imported from %s\n", len(rows), args[0])
			return nil
		},
	})
	return codes
}

// openForwardStore is openStore for commands that also read forward:.
func openForwardStore(ctx context.Context, path string) (*store.Store, config.Config, error) {
	cfg, err := config.LoadFor(path, config.ClickHouseSection|config.ForwardSection)
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
