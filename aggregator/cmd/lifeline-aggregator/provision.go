package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/grafana"
	"github.com/lifeline-telemetry/lifeline/aggregator/store"
	"github.com/lifeline-telemetry/lifeline/proto/obs"
)

// Environment variables the provision command reads when its flags are
// not given; the names Grafana's own tooling uses.
const (
	envGrafanaURL   = "GRAFANA_URL"
	envGrafanaToken = "GRAFANA_TOKEN"
)

func newProvision(path *string) *cobra.Command {
	var (
		dryRun, prune bool
		out, mount    string
		url, token    string
		tokenFile     string
		lang          string
		sites         []string
	)
	cmd := &cobra.Command{
		Use:   "provision",
		Short: "Create or update Grafana's data source, park folders, teams and dashboards (or write them as files)",
		Long: `provision makes Grafana hold one folder, one team and the Lifeline dashboards
per park, for the sites registered in ClickHouse (or given with --site).
Running it again changes nothing; it never touches dashboards without the
lifeline-managed tag. With --dry-run it writes the dashboards and Grafana's
file-provisioning YAML under --out instead of calling Grafana.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The sites come from ClickHouse unless --site names them.
			cfg, err := config.LoadFor(*path, config.GrafanaSection|config.ClickHouseSection)
			if err != nil {
				return err
			}
			for _, w := range config.SecretWarnings(*path) {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			gc := grafanaConfig(cfg)
			if v := firstOf(url, os.Getenv(envGrafanaURL)); v != "" {
				gc.URL = v
			}
			if err := flagToken(cmd.ErrOrStderr(), &gc, token, tokenFile); err != nil {
				return err
			}
			if lang != "" {
				gc.Lang = lang
			}
			if err := gc.Validate(dryRun); err != nil {
				return err
			}
			list, err := siteList(cmd.Context(), cfg, sites)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if dryRun {
				if out == "" {
					return errors.New("--dry-run needs --out DIR")
				}
				st, err := grafana.Desired(gc, list)
				if err != nil {
					return err
				}
				files, err := grafana.WriteFiles(out, st, grafana.FileOptions{GrafanaPath: mount})
				if err != nil {
					return err
				}
				n := 0
				for _, p := range st.Parks {
					n += len(p.Dashboards)
				}
				fmt.Fprintf(w, "wrote %d files under %s: %d dashboards in %d park folders, data source and dashboard provisioning YAML\n",
					len(files), out, n, len(st.Parks))
				if len(list) == 0 {
					fmt.Fprintln(w, "no site is registered yet: a site's dashboards follow once its agent has connected (run provision again), or name it with --site SITE=PARK")
				}
				return nil
			}
			p, err := grafana.New(gc, obs.NewLogger(cfg.Log, os.Stderr))
			if err != nil {
				return err
			}
			defer p.Close()
			rep, err := p.Provision(cmd.Context(), list, grafana.Options{Prune: prune})
			for _, c := range rep.Changes {
				if c.Action != grafana.Unchanged {
					fmt.Fprintf(w, "%-9s %-11s %s\n", c.Action, c.Kind, c.ID)
				}
			}
			fmt.Fprintf(w, "grafana %s: %s\n", gc.URL, rep.Summary())
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&dryRun, "dry-run", false, "write files under --out instead of calling Grafana")
	f.StringVar(&out, "out", "", "directory for --dry-run")
	f.StringVar(&mount, "grafana-path", "", "with --dry-run: where Grafana will read the dashboards directory (default: OUT/dashboards)")
	f.BoolVar(&prune, "prune", false, "delete Lifeline's dashboards (and emptied folders) of sites and parks no longer registered")
	f.StringVar(&url, "url", "", "Grafana URL (default: $"+envGrafanaURL+", then grafana.url)")
	f.StringVar(&token, "token", "", "service account token; visible in ps, prefer --token-file (default: $"+envGrafanaToken+", then grafana.token)")
	f.StringVar(&tokenFile, "token-file", "", "file holding the service account token")
	f.StringVar(&lang, "lang", "", "dashboard language, zh or en (default: grafana.lang)")
	f.StringSliceVar(&sites, "site", nil, "SITE=PARK, repeatable: provision these sites instead of those registered in ClickHouse")
	return cmd
}

// flagToken sets the Grafana token from --token, --token-file or
// $GRAFANA_TOKEN, in that order, over the config file's.
func flagToken(stderr io.Writer, gc *grafana.Config, token, tokenFile string) error {
	if token != "" {
		fmt.Fprintln(stderr, "warning: --token is visible to every user in ps; use --token-file or $"+envGrafanaToken)
	}
	fileToken, err := readSecretFile(tokenFile)
	if err != nil {
		return err
	}
	if v := firstOf(token, fileToken, os.Getenv(envGrafanaToken)); v != "" {
		gc.Token = v
	}
	return nil
}

// readSecretFile returns the secret in path without its trailing newline,
// or "" for no path.
func readSecretFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	return strings.TrimRight(string(data), "\r\n"), nil
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// grafanaConfig turns the file's grafana section into the provisioner's
// configuration; the data source defaults to the aggregator's ClickHouse.
func grafanaConfig(c config.Config) grafana.Config {
	g, d := c.Grafana, c.Grafana.Datasource
	ds := grafana.Datasource{UID: d.UID, Name: d.Name, Addr: firstOf(d.Addr, strings.Split(c.ClickHouse.Addr, ",")[0]),
		Database: firstOf(d.Database, c.ClickHouse.Database), Username: d.Username, Password: d.Password, Secure: d.Secure}
	return grafana.Config{URL: g.URL, Token: g.Token, Username: g.Username, Password: g.Password, OrgID: g.OrgID,
		Lang: g.Lang, Timeout: g.Timeout, AckOverdue: g.AckOverdue, Datasource: ds}
}

// siteList parses --site flags, or else reads the registered sites from
// ClickHouse.
func siteList(ctx context.Context, cfg config.Config, flags []string) ([]grafana.Site, error) {
	if len(flags) > 0 {
		var out []grafana.Site
		for _, f := range flags {
			id, park, ok := strings.Cut(f, "=")
			if !ok || id == "" || park == "" {
				return nil, fmt.Errorf("--site %q: want SITE=PARK", f)
			}
			out = append(out, grafana.Site{ID: id, Park: park})
		}
		return out, nil
	}
	st := store.New(cfg.Store(), obs.NewLogger(cfg.Log, os.Stderr))
	defer st.Close()
	if err := st.Open(ctx); err != nil {
		return nil, err
	}
	sites, err := st.Sites(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]grafana.Site, len(sites))
	for i, s := range sites {
		out[i] = grafana.Site{ID: s.ID, Park: s.Park}
	}
	return out, nil
}
