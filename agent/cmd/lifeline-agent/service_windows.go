package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/logfile"
	"github.com/lifeline-telemetry/lifeline/agent/winservice"
)

// The service's log: 10 MiB files, five kept besides the current one.
const (
	serviceLogBytes = 10 << 20
	serviceLogKeep  = 5
)

// serviceArg marks the service's command line ("run --service --config
// FILE", from service install and the MSI). svc.IsWindowsService guesses
// from the parent process, and guesses wrong under Wine; the mark makes
// the choice certain. It is taken off before cobra sees the arguments.
const serviceArg = "--service"

// runMain runs the command line. Started by the SCM it runs under
// winservice.Run, and everything the command would print goes to the
// rotating log file under ProgramData.
func runMain(root *cobra.Command) error {
	args, marked := withoutArg(os.Args[1:], serviceArg)
	if !marked && !winservice.IsService() {
		return root.Execute()
	}
	root.SetArgs(args)
	logPath := config.DefaultPaths().Log
	log := logfile.New(logPath, serviceLogBytes, serviceLogKeep)
	defer log.Close()
	root.SetOut(log)
	root.SetErr(log)
	// A Go crash writes to standard error, which a service does not have.
	os.MkdirAll(filepath.Dir(logPath), 0o755)
	if f, err := os.OpenFile(filepath.Join(filepath.Dir(logPath), "crash.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
		debug.SetCrashOutput(f, debug.CrashOptions{})
		f.Close()
	}
	return winservice.Run(func(ctx context.Context) error { return root.ExecuteContext(ctx) })
}

func newServiceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Install, remove, start or stop the agent's Windows service (" + winservice.Name + ")",
		Long: "The service runs \"lifeline-agent run --service --config FILE\" at boot (delayed automatic start),\n" +
			"is restarted by Windows when it fails, logs to " + config.DefaultPaths().Log + "\n" +
			"(rotated at 10 MiB, five kept) and writes its start, stop and errors to the\n" +
			"Application event log. These commands need an administrator's prompt.",
	}
	const timeout = 60 * time.Second
	cmd.AddCommand(
		newServiceInstallCmd(),
		serviceAction("uninstall", "Stop and remove the service (config, buffer and certificates stay)", func() error { return winservice.Uninstall(timeout) }),
		serviceAction("start", "Start the service and wait until it runs", func() error { return winservice.Start(timeout) }),
		serviceAction("stop", "Stop the service and wait until it has drained and closed its buffer", func() error { return winservice.Stop(timeout) }),
		&cobra.Command{
			Use: "configure", Hidden: true, Args: cobra.NoArgs,
			Short: "Set delayed start, restart on failure and the event log source of the installed service (run by the MSI)",
			RunE:  func(*cobra.Command, []string) error { return winservice.Configure(dataDir()) },
		},
		&cobra.Command{
			Use: "remove-event-source", Hidden: true, Args: cobra.NoArgs,
			Short: "Unregister the service's event log source (run by the MSI on uninstall)",
			RunE:  func(*cobra.Command, []string) error { return winservice.RemoveEventSource() },
		},
	)
	return cmd
}

func newServiceInstallCmd() *cobra.Command {
	path := config.DefaultPaths().Config
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Register the service to run this executable with --config at boot",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this executable: %w", err)
			}
			cfg, err := filepath.Abs(path)
			if err != nil {
				return fmt.Errorf("config path %s: %w", path, err)
			}
			if err := winservice.Install(dataDir(), exe, "run", serviceArg, "--config", cfg); err != nil {
				return err
			}
			printf(cmd, "installed service %s: %s run %s --config %s\n", winservice.Name, exe, serviceArg, cfg)
			printf(cmd, "check the config with: lifeline-agent check --config %s\nthen start it with:   lifeline-agent service start\n", cfg)
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", path, "configuration file the service runs with")
	return cmd
}

func serviceAction(use, short string, fn func() error) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := fn(); err != nil {
				return err
			}
			printf(cmd, "service %s: %s done\n", winservice.Name, use)
			return nil
		},
	}
}

// dataDir is %ProgramData%\Lifeline, which holds the default config, buffer,
// certificates and logs.
func dataDir() string { return filepath.Dir(config.DefaultPaths().Config) }

// withoutArg returns args without the first arg equal to a, and whether it
// was there.
func withoutArg(args []string, a string) ([]string, bool) {
	for i, x := range args {
		if x == a {
			return append(args[:i:i], args[i+1:]...), true
		}
	}
	return args, false
}
