// Command lifeline-plantsim serves a simulated chemical plant over OPC UA
// (a methanol tank farm and a chlorination reactor with gas detectors), for
// the demo, for tests, and for plants rehearsing an agent installation.
// Its config subcommand prints a ready agent configuration for it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/agent/plantsim"
	"github.com/lifeline-telemetry/lifeline/proto/buildinfo"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// version is stamped at link time; see proto/buildinfo.
var version = buildinfo.Version

func main() {
	if err := newRootCmd(os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

// simFlags are the model options shared by run and config.
type simFlags struct {
	points      int
	rate        float64
	namespace   string
	seed        int64
	tick        time.Duration
	excursions  float64
	maxPerSub   int
	maxPerRead  int
	queueValues bool
}

func (f *simFlags) register(cmd *cobra.Command) {
	d := plantsim.DefaultOptions()
	fl := cmd.Flags()
	fl.IntVar(&f.points, "points", 0, "extra load points (Load.P00001 …) besides the plant's own")
	fl.Float64Var(&f.rate, "rate", d.Rate, "how often each load point changes, in Hz")
	fl.StringVar(&f.namespace, "namespace", d.NamespaceURI, "namespace URI of the simulated nodes")
}

func (f *simFlags) registerModel(cmd *cobra.Command) {
	d := plantsim.DefaultOptions()
	fl := cmd.Flags()
	fl.Int64Var(&f.seed, "seed", 0, "seed of the model's random numbers")
	fl.DurationVar(&f.tick, "tick", d.Tick, "period of the plant model (its rates are per tick: a shorter tick runs the plant faster)")
	fl.Float64Var(&f.excursions, "excursions-per-hour", d.ExcursionsPerHour, "mean number of random alarm excursions per hour (negative disables them)")
	fl.IntVar(&f.maxPerSub, "max-items-per-subscription", 0, "MaxMonitoredItemsPerSubscription the server states (0 states none); clients then spread items over subscriptions")
	fl.IntVar(&f.maxPerRead, "max-nodes-per-read", 0, "MaxNodesPerRead the server states (0 keeps gopcua's 32); clients split Reads by it")
	fl.BoolVar(&f.queueValues, "queue-values", false, "keep each monitored item's queue at the size asked for (discard-oldest, Overflow bit) instead of gopcua's one value per item between publishes")
}

func (f *simFlags) options() plantsim.Options {
	return plantsim.Options{
		NamespaceURI:            f.namespace,
		Points:                  f.points,
		Rate:                    f.rate,
		Seed:                    f.seed,
		Tick:                    f.tick,
		ExcursionsPerHour:       f.excursions,
		MaxItemsPerSubscription: f.maxPerSub,
		MaxNodesPerRead:         f.maxPerRead,
		QueueValues:             f.queueValues,
	}
}

func (f *simFlags) validate() error {
	if f.points < 0 {
		return fmt.Errorf("--points %d: want >= 0", f.points)
	}
	if f.maxPerRead < 0 {
		return fmt.Errorf("--max-nodes-per-read %d: want >= 0", f.maxPerRead)
	}
	if f.maxPerSub < 0 {
		return fmt.Errorf("--max-items-per-subscription %d: want >= 0", f.maxPerSub)
	}
	if !(f.rate > 0 && f.rate <= 100) {
		return fmt.Errorf("--rate %g: want > 0 and <= 100 Hz", f.rate)
	}
	if f.tick < 0 {
		return fmt.Errorf("--tick %s: want > 0", f.tick)
	}
	if f.namespace == "" {
		return errors.New("--namespace: must be set")
	}
	return nil
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "lifeline-plantsim",
		Short: "Serve a simulated chemical plant over OPC UA",
		Long: `lifeline-plantsim serves a simulated chemical plant over OPC UA (security None,
anonymous): the methanol tank farm HS-01 (tanks T101–T104 with level,
temperature, pressure and inlet pump, gas detectors in the dike) and the
chlorination unit HS-02 (reactor R201 with temperature, pressure, chlorine
feed, agitator, batch ID and phase, gas detectors). Values move plausibly and
now and then cross their alarm limits.

Without a subcommand it runs the server, like "lifeline-plantsim run".
"lifeline-plantsim config" prints a matching agent configuration.`,
		Version:      buildinfo.Get().String(),
		SilenceUsage: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)

	run := newRunCmd(stderr)
	root.Flags().AddFlagSet(run.Flags())
	root.RunE = run.RunE
	root.AddCommand(run, newConfigCmd(stdout))

	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, c.CommandPath())
	})
	return root
}

func newRunCmd(stderr io.Writer) *cobra.Command {
	var (
		f        simFlags
		listen   string
		logLevel string
		every    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the OPC UA server until SIGINT or SIGTERM",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			lc := obs.LogConfig{Level: logLevel, Format: "text"}
			if lc.Validate() != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			logger := obs.NewLogger(lc, stderr)
			// gopcua's server also writes to the standard logger (node set
			// import, "Started listening"); keep that at debug level.
			log.SetFlags(0)
			log.SetOutput(slog.NewLogLogger(logger.Handler(), slog.LevelDebug).Writer())

			opts := f.options()
			opts.Addr = listen
			opts.Logger = logger
			return run(cmd.Context(), plantsim.New(opts), logger, every)
		},
	}
	d := plantsim.DefaultOptions()
	cmd.Flags().StringVar(&listen, "listen", d.Addr, "TCP address to listen on (port 0 picks a free port)")
	f.register(cmd)
	f.registerModel(cmd)
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	cmd.Flags().DurationVar(&every, "stats-interval", time.Minute, "how often to log the number of value changes (0 disables)")
	return cmd
}

func run(ctx context.Context, sim *plantsim.Sim, logger *slog.Logger, every time.Duration) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := sim.Start(ctx); err != nil {
		return err
	}
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	last, lastAt := sim.Changes(), time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tick:
			n := sim.Changes()
			logger.Info("value changes", "total", n, "per_second", fmt.Sprintf("%.1f", float64(n-last)/now.Sub(lastAt).Seconds()),
				"dropped_notifications", sim.Dropped(), "overflowed_values", sim.Overflowed())
			last, lastAt = n, now
		}
	}
	stop()
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return sim.Shutdown(sctx)
}

func newConfigCmd(stdout io.Writer) *cobra.Command {
	var (
		f                        simFlags
		aggregator, buffer, site string
		endpoint                 string
	)
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print an agent configuration (YAML) that reads every simulated point",
		Long: `config prints an agent configuration that reads every point of a simulator
listening at --endpoint and sends to the aggregator at --aggregator in plain
text (aggregator.tls.insecure: the demo and rehearsals run on one machine).
It starts no server. Use the same --points and --namespace as the simulator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			u, err := url.Parse(endpoint)
			if err != nil || u.Scheme != "opc.tcp" || u.Port() == "" || strings.Trim(u.Path, "/") != "" {
				return fmt.Errorf("--endpoint %q: want opc.tcp://host:port", endpoint)
			}
			opts := f.options()
			opts.Addr = u.Host
			cfg := plantsim.New(opts).AgentConfig(aggregator, buffer, site)
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("the configuration would be invalid:\n%w", err)
			}
			data, err := cfg.Marshal()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "# Agent configuration for the lifeline-plantsim simulated plant at %s\n# (%d points; generated by lifeline-plantsim %s).\n%s", cfg.Sources[0].Endpoint, len(cfg.Sources[0].Points), version, data)
			return err
		},
	}
	cmd.Flags().StringVar(&aggregator, "aggregator", "", "aggregator address host:port (required)")
	cmd.Flags().StringVar(&buffer, "buffer", "", "the agent's buffer directory (required)")
	cmd.Flags().StringVar(&site, "site", "", "site ID of the simulated plant, e.g. DEMO01 (required)")
	cmd.Flags().StringVar(&endpoint, "endpoint", "opc.tcp://127.0.0.1:4840", "endpoint URL of the simulator")
	f.register(cmd)
	for _, name := range []string{"aggregator", "buffer", "site"} {
		if err := cmd.MarkFlagRequired(name); err != nil {
			panic(err)
		}
	}
	return cmd
}
