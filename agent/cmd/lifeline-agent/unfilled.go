package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/agent/config"
)

// refuseUnfilled fails when the configuration at path is still the installed
// example: an example address, or certificate files not given to the plant
// yet. It lists each value to fill in, so the first check after installing
// the package says what to do rather than failing to connect.
func refuseUnfilled(cmd *cobra.Command, path string, cfg config.Config) error {
	todo := config.Placeholders(cfg)
	if tls := cfg.Aggregator.TLS; !tls.Insecure {
		var missing []string
		for _, f := range []struct{ key, path string }{
			{"ca_file", tls.CAFile}, {"cert_file", tls.CertFile}, {"key_file", tls.KeyFile},
		} {
			if _, err := os.Stat(f.path); errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, f.key+" "+f.path)
			}
		}
		if len(missing) > 0 {
			todo = append(todo, fmt.Sprintf("aggregator.tls: no such file: %s; the aggregator's operator makes the site's certificate "+
				"and key with 'lifeline-aggregator certs agent --site %s' and gives them with ca.crt", strings.Join(missing, ", "), cfg.Site.ID))
		}
	}
	if len(todo) == 0 {
		return nil
	}
	printf(cmd, "config %s: not filled in for the plant yet (site, aggregator, sources and their points):\n", path)
	for _, s := range todo {
		printf(cmd, "  %s\n", s)
	}
	return fmt.Errorf("config %s: %d value(s) to fill in, listed above", path, len(todo))
}
