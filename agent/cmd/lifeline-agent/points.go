package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/lifeline-telemetry/lifeline/agent/config"
	"github.com/lifeline-telemetry/lifeline/agent/pointlist"
	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
)

func newPointsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "points", Short: "Work with point lists (点表)"}
	cmd.AddCommand(newPointsImportCmd())
	return cmd
}

func newPointsImportCmd() *cobra.Command {
	var cfgPath, out string
	var opts pointlist.ApplyOptions
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Turn a CSV point list (UTF-8 or GBK, Chinese or English headers) into the agent's point configuration",
		Long: "import reads a point list and prints the points and hazard sources as YAML.\n" +
			"With --config it prints (or writes with -o) the whole configuration with the\n" +
			"points of --source replaced by the list (rows with a 数据源/source column go\n" +
			"to the source they name); with --merge the list updates the points it names\n" +
			"(same ID, or else same node) and adds the others, keeping the rest, e.g. points\n" +
			"found by browse. Hazard sources no point uses any more are removed. The points\n" +
			"are validated before anything is written.\n" +
			"Rows without a 类型/kind cell get the kind their unit, name, tag and limit\n" +
			"columns say (docs/agent.md lists the rules); a row whose kind stays unknown,\n" +
			"or whose cells disagree, is warned about by row and point.\n" +
			"Every error names the row (the header is row 1) and the column.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Merge && cfgPath == "" {
				return fmt.Errorf("--merge needs --config: the configuration whose points the list is merged into")
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			list, err := pointlist.Parse(data)
			if err != nil {
				return fmt.Errorf("%s:\n%w", args[0], err)
			}
			for _, w := range list.Warnings {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", args[0], w)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d points, %d hazard sources (%s)\n", args[0], len(list.Points), len(list.HazardSources), list.Encoding)
			var doc []byte
			if cfgPath == "" {
				doc, err = fragment(list)
			} else {
				var cfg config.Config
				if cfg, err = merged(cmd.ErrOrStderr(), cfgPath, opts, list); err != nil {
					return err
				}
				if err := cfg.Validate(); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "the points are valid; before 'lifeline-agent run', fix the rest of %s:\n%v\n", cfgPath, err)
				}
				doc, err = cfg.Marshal()
			}
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(doc)
				return err
			}
			// Owner-only, as before: the agent's configuration may hold OPC UA passwords.
			if err := atomicfile.WriteFile(out, doc, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "written %s; check it with: lifeline-agent check --config %s\n", out, out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&cfgPath, "config", "c", "", "agent configuration to put the points into")
	cmd.Flags().StringVar(&opts.Source, "source", "", "source whose points the list replaces (default: the only source)")
	cmd.Flags().BoolVar(&opts.Merge, "merge", false, "keep the source's points the list does not name; update those it names (by ID, or else by node)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to this file instead of standard output")
	return cmd
}

// fragment is the list as YAML to paste into a configuration.
func fragment(list *pointlist.List) ([]byte, error) {
	doc := struct {
		HazardSources []config.HazardSource `yaml:"hazard_sources,omitempty"`
		Points        []config.Point        `yaml:"points"`
	}{list.HazardSources, list.Points}
	return yaml.Marshal(doc)
}

// merged is the configuration at path with the list applied; it reports
// to w what changed. Only the sources and hazard sources must be valid
// afterwards: a new configuration may have no certificates yet.
func merged(w io.Writer, path string, o pointlist.ApplyOptions, list *pointlist.List) (config.Config, error) {
	cfg, err := config.LoadFor(path, config.ConnectionsSection)
	if err != nil {
		return cfg, err
	}
	res, err := pointlist.Apply(&cfg, list, o)
	if err != nil {
		return cfg, fmt.Errorf("%s: %w", path, err)
	}
	for _, c := range res.Sources {
		if o.Merge {
			fmt.Fprintf(w, "source %s: %d points updated, %d added, %d kept\n", c.Source, c.Updated, c.Added, c.Kept)
		} else {
			fmt.Fprintf(w, "source %s: %d points replaced by the list's %d (--merge keeps the points the list does not name)\n",
				c.Source, c.Removed, c.Added)
		}
	}
	for _, h := range res.DroppedHazards {
		fmt.Fprintf(w, "hazard source %s (%s) is used by no point any more: removed\n", h.Code, h.Name)
	}
	if err := cfg.ValidateFor(config.SourcesSection); err != nil {
		return cfg, fmt.Errorf("the configuration with the imported points is not valid:\n%w", err)
	}
	return cfg, nil
}
