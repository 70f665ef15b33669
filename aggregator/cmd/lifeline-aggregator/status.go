package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

func newStatusCmd(path *string) *cobra.Command {
	var (
		addr     string
		asJSON   bool
		interval time.Duration
	)
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running aggregator's readiness, connected sites, ingest rate, writer and alarm backlog",
		Long: "status reads the running aggregator's /metrics and /readyz (metrics.listen in its config,\n" +
			"or --metrics). It reads twice, --interval apart, to show rates; --interval 0 reads once.\n" +
			"Only the metrics section of the config is read: no TLS files or secrets are needed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if addr == "" {
				a, err := metricsListen(*path)
				if err != nil {
					return err
				}
				addr = a
			}
			rep, err := readStatus(cmd.Context(), dialable(addr), interval)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printStatus(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "metrics", "", "the aggregator's metrics address (default: metrics.listen of --config)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between the two reads that give the rates (0: no rates)")
	return cmd
}

// metricsListen returns metrics.listen from the config file at path, or
// the default without one. It reads that section alone: an operator may
// ask for the status without the rights to the server's key or secrets.
func metricsListen(path string) (string, error) {
	listen := config.Default().Metrics.Listen
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("read config: %w", err)
		}
		var only struct {
			Metrics *obs.MetricsConfig `yaml:"metrics"`
		}
		if err := yaml.Unmarshal(data, &only); err != nil {
			return "", fmt.Errorf("config %s: %w", path, err)
		}
		if only.Metrics != nil {
			listen = only.Metrics.Listen
		}
	}
	if listen == "" {
		return "", errors.New("metrics.listen is empty: the aggregator exposes no status (or pass --metrics)")
	}
	return listen, nil
}

// dialable turns a listen address into one to connect to: a wildcard
// host (":9465", "0.0.0.0:9465") is reached on loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
