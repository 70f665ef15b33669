package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/pki"
)

func newCertsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Manage the agent's OPC UA certificates (application instance certificate, trusted servers)",
		Long: "The agent keeps its OPC UA certificates in a PKI directory (default " + config.DefaultPaths().PKI + "):\n" +
			"own/ holds its application instance certificate and key, trusted/certs the server\n" +
			"certificates it trusts, rejected/certs those servers presented that are not trusted yet.",
	}
	cmd.AddCommand(newCertsInitCmd(), newCertsTrustCmd(), newCertsShowCmd())
	return cmd
}

func newCertsInitCmd() *cobra.Command {
	o := pki.DefaultInitOptions()
	dir := config.DefaultPaths().PKI
	var days int
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create the application instance certificate (once; an existing one is kept)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Validity = time.Duration(days) * 24 * time.Hour
			d := pki.Dir{Root: dir}
			own, err := d.Init(o)
			if err != nil {
				return err
			}
			printf(cmd, "created application instance certificate %s\n", d.OwnCertPath())
			printf(cmd, "  application URI  %s\n", own.ApplicationURI)
			printf(cmd, "  thumbprint       %s\n", pki.Thumbprint(own.Cert))
			printf(cmd, "  valid until      %s\n", own.Parsed.NotAfter.UTC().Format(time.DateOnly))
			printf(cmd, "Give %s to the OPC UA server's administrator to trust the agent.\n", d.OwnCertPath())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "pki", dir, "PKI directory")
	f.StringVar(&o.ApplicationURI, "uri", o.ApplicationURI, "application URI (written into the certificate)")
	f.StringSliceVar(&o.Hosts, "host", o.Hosts, "DNS names or IP addresses of this machine (repeatable)")
	f.StringVar(&o.CommonName, "cn", o.CommonName, "subject common name")
	f.StringVar(&o.Organization, "org", o.Organization, "subject organization")
	f.IntVar(&days, "days", int(o.Validity/(24*time.Hour)), "validity in days")
	f.IntVar(&o.KeyBits, "bits", o.KeyBits, "RSA key size")
	return cmd
}

func newCertsTrustCmd() *cobra.Command {
	dir := config.DefaultPaths().PKI
	cmd := &cobra.Command{
		Use:   "trust FILE",
		Short: "Trust a server certificate (DER or PEM), e.g. one saved in rejected/certs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := pki.Dir{Root: dir}
			der, cert, err := pki.ParseCertFile(args[0])
			if err != nil {
				return err
			}
			path, err := d.Trust(args[0])
			if err != nil {
				return err
			}
			printf(cmd, "trusted %s\n  subject     %s\n  thumbprint  %s\n  valid       %s .. %s\n  file        %s\n",
				args[0], cert.Subject, pki.Thumbprint(der),
				cert.NotBefore.UTC().Format(time.DateOnly), cert.NotAfter.UTC().Format(time.DateOnly), path)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "pki", dir, "PKI directory")
	return cmd
}

func newCertsShowCmd() *cobra.Command {
	dir := config.DefaultPaths().PKI
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the agent's certificate and the trusted and rejected server certificates",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			d := pki.Dir{Root: dir}
			own, err := d.LoadOwn()
			if err != nil {
				return err
			}
			printf(cmd, "own       %s\n  application URI  %s\n  thumbprint       %s\n", d.OwnCertPath(), own.ApplicationURI, pki.Thumbprint(own.Cert))
			for _, l := range []struct{ name, dir string }{{"trusted", d.TrustedDir()}, {"rejected", d.RejectedDir()}} {
				names, err := listDir(l.dir)
				if err != nil {
					return err
				}
				printf(cmd, "%-9s %s (%d)\n", l.name, l.dir, len(names))
				for _, n := range names {
					printf(cmd, "  %s\n", n)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "pki", dir, "PKI directory")
	return cmd
}

func listDir(dir string) ([]string, error) {
	entries, err := readDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e, ".") {
			out = append(out, e)
		}
	}
	return out, nil
}

func readDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}
