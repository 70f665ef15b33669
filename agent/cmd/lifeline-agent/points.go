package main

import (
	"errors"
	"fmt"
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
	var cfgPath, source, out string
	cmd := &cobra.Command{
		Use:   "import FILE.csv",
		Short: "Turn a CSV point list (UTF-8 or GBK, Chinese or English headers) into the agent's point configuration",
		Long: "import reads a point list and prints the points and hazard sources as YAML.\n" +
			"With --config it prints (or writes with -o) the whole configuration with the\n" +
			"points of --source replaced by the list (rows with a 数据源/source column go\n" +
			"to the source they name); the result is validated before it is written.\n" +
			"Every error names the row (the header is row 1) and the column.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
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
				if cfg, err = merged(cfgPath, source, list); err != nil {
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
	cmd.Flags().StringVar(&source, "source", "", "source whose points the list replaces (default: the only source)")
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

// merged is the configuration at path with its points replaced by the
// list. Only the sources and hazard sources must be valid: a new
// configuration may have no points and no certificates yet.
func merged(path, source string, list *pointlist.List) (config.Config, error) {
	cfg, err := config.LoadFor(path, config.ConnectionsSection)
	if err != nil {
		return cfg, err
	}
	index := map[string]int{}
	for i, s := range cfg.Sources {
		index[s.Name] = i
	}
	target := -1
	switch {
	case source != "":
		i, ok := index[source]
		if !ok {
			return cfg, fmt.Errorf("--source %q: not in %s", source, path)
		}
		target = i
	case len(cfg.Sources) == 1:
		target = 0
	}
	points := make([][]config.Point, len(cfg.Sources))
	for j, p := range list.Points {
		i := target
		if name := list.Sources[j]; name != "" {
			var ok bool
			if i, ok = index[name]; !ok {
				return cfg, fmt.Errorf("row %d: source %q is not in %s", j+2, name, path)
			}
		}
		if i < 0 {
			return cfg, errors.New("the configuration has several sources: name one with --source or give the list a 数据源 (source) column")
		}
		points[i] = append(points[i], p)
	}
	for i := range cfg.Sources {
		if len(points[i]) > 0 {
			cfg.Sources[i].Points = points[i]
		}
	}
	for _, h := range list.HazardSources {
		replaced := false
		for k := range cfg.HazardSources {
			if cfg.HazardSources[k].Code == h.Code {
				cfg.HazardSources[k], replaced = h, true
			}
		}
		if !replaced {
			cfg.HazardSources = append(cfg.HazardSources, h)
		}
	}
	if err := cfg.ValidateFor(config.SourcesSection); err != nil {
		return cfg, fmt.Errorf("the configuration with the imported points is not valid:\n%w", err)
	}
	return cfg, nil
}
