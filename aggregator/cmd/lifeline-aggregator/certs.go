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
			"  lifeline-aggregator certs server --dir /etc/lifeline/ca --out /etc/lifeline/tls --host aggregator.example.cn --host 10.0.0.5\n" +
			"  lifeline-aggregator certs agent --dir /etc/lifeline/ca --out ./SITE01 --site SITE01\n" +
			"  lifeline-aggregator certs agent --dir /etc/lifeline/ca --out ./SITE01 --site SITE01 --force   # renew\n" +
			"  lifeline-aggregator certs revoke --dir /etc/lifeline/ca --list /etc/lifeline/tls/revoked.txt --site SITE01\n\n" +
			"server and agent also copy ca.crt (never ca.key) into --out, so the directory holds\n" +
			"every file the TLS settings name; server creates an empty deny-list revoked.txt there.\n" +
			"Certificates last two years; agents warn 30 days before theirs expires.\n" +
			"Revoked serials go to a deny-list (default <dir>/revoked.txt) that the\n" +
			"aggregator names as server.tls.revoked_file and rereads when it changes.",
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

	cmd.AddCommand(initCmd, newCertsServerCmd(&dir), newCertsAgentCmd(&dir), newRevokeCmd(&dir))
	return cmd
}

// newCertsServerCmd issues the aggregator's certificate into --out with a
// copy of the CA certificate and an empty deny-list: every file server.tls
// names.
func newCertsServerCmd(dir *string) *cobra.Command {
	var hosts []string
	var out string
	var force bool
	server := &cobra.Command{
		Use:   "server",
		Short: "Issue the aggregator's server certificate",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := linkca.IssueServer(*dir, out, "aggregator", hosts, force); err != nil {
				return err
			}
			if err := linkca.CopyCA(*dir, out); err != nil {
				return err
			}
			revoked := filepath.Join(out, linkca.Revoked)
			created, err := linkca.EnsureRevoked(revoked)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s, %s and %s (server.tls cert_file, key_file, client_ca_file)\n",
				filepath.Join(out, "aggregator.crt"), filepath.Join(out, "aggregator.key"), filepath.Join(out, linkca.CACert))
			if created {
				fmt.Fprintf(w, "created the empty deny-list %s (server.tls.revoked_file; 'certs revoke --list %s' adds to it)\n", revoked, revoked)
			}
			return nil
		},
	}
	server.Flags().StringSliceVar(&hosts, "host", nil, "DNS name or IP address agents connect to (repeatable)")
	server.Flags().StringVar(&out, "out", ".", "output directory")
	server.Flags().BoolVar(&force, "force", false, "replace an existing key and certificate (renewal)")
	return server
}

// newCertsAgentCmd issues a site's certificate into --out with a copy of
// the CA certificate: the files the plant's agent names.
func newCertsAgentCmd(dir *string) *cobra.Command {
	var out string
	var force bool
	var site string
	agent := &cobra.Command{
		Use:   "agent",
		Short: "Issue a site's agent certificate (CN = site ID)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cert, err := linkca.IssueAgent(*dir, out, site, force)
			if err != nil {
				return err
			}
			if err := linkca.CopyCA(*dir, out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s, %s and %s (serial %s, valid until %s); copy them to the plant's "+
				"/etc/lifeline/tls/ (the agent's aggregator.tls cert_file, key_file, ca_file)\n",
				filepath.Join(out, site+".crt"), filepath.Join(out, site+".key"), filepath.Join(out, linkca.CACert),
				linkca.SerialText(cert.SerialNumber), cert.NotAfter.UTC().Format("2006-01-02"))
			return nil
		},
	}
	agent.Flags().StringVar(&site, "site", "", "the site ID the agent reports for")
	agent.Flags().StringVar(&out, "out", ".", "output directory")
	agent.Flags().BoolVar(&force, "force", false, "replace an existing key and certificate (renewal)")
	return agent
}

func newRevokeCmd(dir *string) *cobra.Command {
	var serials []string
	var site, list, note string
	cmd := &cobra.Command{
		Use:   "revoke",
		Short: "Add certificates to the deny-list the aggregator checks on every handshake",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if site != "" {
				s, err := linkca.SerialsForSite(*dir, site)
				if err != nil {
					return err
				}
				serials = append(serials, s...)
				if note == "" {
					note = "site " + site
				}
			}
			if len(serials) == 0 {
				return fmt.Errorf("name a --serial or a --site")
			}
			if list == "" {
				list = filepath.Join(*dir, linkca.Revoked)
			}
			if err := linkca.Revoke(list, serials, note); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %d serial(s) in %s; the aggregator rereads it within seconds\n", len(serials), list)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&serials, "serial", nil, "certificate serial in hex (repeatable; colons allowed)")
	cmd.Flags().StringVar(&site, "site", "", "revoke every certificate issued to this site")
	cmd.Flags().StringVar(&list, "list", "", "deny-list file (default <dir>/revoked.txt)")
	cmd.Flags().StringVar(&note, "note", "", "why, kept as a comment in the list")
	return cmd
}
