package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/opcua"
	"github.com/lifeline-telemetry/lifeline/agent/pointlist"
)

// connFlags are the connection settings of commands that talk to one
// server without a configuration file.
type connFlags struct {
	config, source string
	src            config.Source
}

func (f *connFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "take the connection settings from this agent configuration …")
	fl.StringVar(&f.source, "source", "", "… and this source of it (default: the one whose endpoint matches, or the only one)")
	fl.StringVar(&f.src.SecurityPolicy, "security-policy", "None", "None, Basic256Sha256 or Aes128_Sha256_RsaOaep")
	fl.StringVar(&f.src.SecurityMode, "security-mode", "None", "None, Sign or SignAndEncrypt")
	fl.StringVar(&f.src.PKIDir, "pki", config.DefaultPaths().PKI, "PKI directory (own/, trusted/, rejected/)")
	fl.StringVar(&f.src.Auth, "auth", "anonymous", "anonymous, username or certificate")
	fl.StringVar(&f.src.Username, "username", "", "user name (auth username)")
	fl.StringVar(&f.src.PasswordFile, "password-file", "", "file holding the password (auth username)")
	fl.StringVar(&f.src.UserCertFile, "user-cert", "", "user certificate (auth certificate)")
	fl.StringVar(&f.src.UserKeyFile, "user-key", "", "user private key (auth certificate)")
}

// resolve returns the source to connect to endpoint (which may be empty
// when --config names the source).
func (f *connFlags) resolve(endpoint string) (config.Source, error) {
	if f.config == "" {
		if endpoint == "" {
			return config.Source{}, errors.New("give an endpoint (opc.tcp://host:port) or --config")
		}
		src := f.src
		src.Name, src.Endpoint = "browse", endpoint
		config.SourceDefaults(&src)
		return src, nil
	}
	// Browsing is how points are found: a source may have none yet.
	cfg, err := config.LoadFor(f.config, config.ConnectionsSection)
	if err != nil {
		return config.Source{}, err
	}
	var match []config.Source
	for _, s := range cfg.Sources {
		if (f.source != "" && s.Name == f.source) || (f.source == "" && (endpoint == "" || s.Endpoint == endpoint)) {
			match = append(match, s)
		}
	}
	if len(match) != 1 {
		return config.Source{}, fmt.Errorf("%s: %d sources match; name one with --source", f.config, len(match))
	}
	src := match[0]
	if endpoint != "" {
		src.Endpoint = endpoint
	}
	return src, nil
}

func newBrowseCmd() *cobra.Command {
	var conn connFlags
	var opts opcua.BrowseOptions
	var csvPath string
	cmd := &cobra.Command{
		Use:   "browse opc.tcp://HOST:PORT",
		Short: "Walk a server's address space and list its variables; write a point-list template",
		Long: "browse walks the address space from --root (default: the Objects folder) down\n" +
			"--depth levels and prints every variable with its node ID (written with the\n" +
			"namespace URI), data type, engineering unit and EURange. With --csv it writes a\n" +
			"point-list template (UTF-8 with BOM, Chinese and English headers) to fill in and\n" +
			"load with 'lifeline-agent points import'.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			endpoint := ""
			if len(args) == 1 {
				endpoint = args[0]
			}
			src, err := conn.resolve(endpoint)
			if err != nil {
				return err
			}
			ctx, stop := runContext(cmd)
			defer stop()
			vars, err := opcua.Browse(ctx, src, opts)
			if err != nil {
				return err
			}
			var tw table
			tw.add("NODE", "PATH", "NAME", "TYPE", "UNIT", "RANGE")
			rows := make([]pointlist.TemplateRow, 0, len(vars))
			for _, v := range vars {
				rng := "-"
				if v.Range != nil {
					rng = fmt.Sprintf("%g..%g", v.Range.Low, v.Range.High)
				}
				tw.add(v.Node, v.Path, dash(v.DisplayName), dash(v.DataType), dash(v.Unit), rng)
				rows = append(rows, pointlist.TemplateRow{Node: v.Node, Path: v.Path, Name: v.DisplayName, Description: v.Description, DataType: v.DataType, Unit: v.Unit, Range: v.Range})
			}
			if err := tw.write(cmd.OutOrStdout()); err != nil {
				return err
			}
			printf(cmd, "%d variables\n", len(vars))
			if csvPath == "" {
				return nil
			}
			f, err := os.Create(csvPath)
			if err != nil {
				return err
			}
			if err := pointlist.WriteTemplate(f, rows); err != nil {
				f.Close()
				return fmt.Errorf("write %s: %w", csvPath, err)
			}
			if err := f.Close(); err != nil {
				return err
			}
			printf(cmd, "point-list template written to %s\n", csvPath)
			return nil
		},
	}
	conn.register(cmd)
	cmd.Flags().StringVar(&opts.Root, "root", "", "start node, e.g. nsu=urn:vendor:dcs;s=Area1 (default: Objects folder)")
	cmd.Flags().IntVar(&opts.Depth, "depth", 10, "levels below the root to walk")
	cmd.Flags().StringVar(&csvPath, "csv", "", "write a point-list template to this CSV file")
	return cmd
}
