package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/opcua"
)

func newCheckCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the config and resolve every point against the live OPC UA servers",
		Long: "check validates the configuration file, then connects to each OPC UA source,\n" +
			"resolves every point's node ID by namespace URI and reads it once. It prints one\n" +
			"line per point and exits non-zero if anything is wrong.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			if err := refuseUnfilled(cmd, path, cfg); err != nil {
				return err
			}
			printf(cmd, "config %s: ok (site %s, %d sources)\n", path, cfg.Site.ID, len(cfg.Sources))
			for _, w := range config.Warnings(path, cfg) {
				printf(cmd, "warning: %s\n", w)
			}
			ctx, stop := runContext(cmd)
			defer stop()
			var failed int
			for _, src := range cfg.Sources {
				reports, err := opcua.Check(ctx, src)
				if err != nil {
					printf(cmd, "source %s (%s): %v\n", src.Name, src.Endpoint, err)
					failed += len(src.Points)
					continue
				}
				printf(cmd, "source %s (%s):\n", src.Name, src.Endpoint)
				tw := table{indent: "  "}
				tw.add("POINT", "NODE", "RESOLVED", "STATUS", "TYPE", "VALUE", "PROBLEM")
				for _, r := range reports {
					problem := "-"
					if r.Err != nil {
						problem = r.Err.Error()
						failed++
					}
					tw.add(r.PointID, r.Node, dash(r.Resolved), dash(r.Status), dash(r.DataType), dash(r.Value), problem)
				}
				if err := tw.write(cmd.OutOrStdout()); err != nil {
					return err
				}
			}
			if failed > 0 {
				return fmt.Errorf("check: %d point(s) failed", failed)
			}
			printf(cmd, "check: all points ok\n")
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", config.DefaultPaths().Config, "configuration file")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
