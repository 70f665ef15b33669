package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/aggregator/linkca"
)

func newCertsCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Make the certificates of the agent–aggregator link (mutual TLS)",
		Long: "certs keeps a small CA for the link between agents and the aggregator.\n" +
			"Each agent gets a client certificate whose common name is its site ID: the\n" +
			"aggregator accepts data for that site only.\n\n" +
			"  lifeline-aggregator certs init --dir /etc/lifeline/ca\n" +
			"  lifeline-aggregator certs server --dir /etc/lifeline/ca --host aggregator.example.cn --host 10.0.0.5\n" +
			"  lifeline-aggregator certs agent --dir /etc/lifeline/ca --site SITE01",
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "/etc/lifeline/ca", "CA directory (ca.crt, ca.key)")

	var name string
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create the CA",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := linkca.Init(dir, name); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "CA created: %s (keep %s secret)\n", filepath.Join(dir, linkca.CACert), filepath.Join(dir, linkca.CAKey))
			return nil
		},
	}
	initCmd.Flags().StringVar(&name, "name", "Lifeline link CA", "the CA's common name")

	var hosts []string
	var out string
	server := &cobra.Command{
		Use:   "server",
		Short: "Issue the aggregator's server certificate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := linkca.Server(dir, out, "aggregator", hosts); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s\n", filepath.Join(out, "aggregator.crt"), filepath.Join(out, "aggregator.key"))
			return nil
		},
	}
	server.Flags().StringSliceVar(&hosts, "host", nil, "DNS name or IP address agents connect to (repeatable)")
	server.Flags().StringVar(&out, "out", ".", "output directory")

	var site string
	agent := &cobra.Command{
		Use:   "agent",
		Short: "Issue a site's agent certificate (CN = site ID)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := linkca.Agent(dir, out, site); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s and %s; give them and %s to the plant\n",
				filepath.Join(out, site+".crt"), filepath.Join(out, site+".key"), filepath.Join(dir, linkca.CACert))
			return nil
		},
	}
	agent.Flags().StringVar(&site, "site", "", "the site ID the agent reports for")
	agent.Flags().StringVar(&out, "out", ".", "output directory")

	cmd.AddCommand(initCmd, server, agent)
	return cmd
}
