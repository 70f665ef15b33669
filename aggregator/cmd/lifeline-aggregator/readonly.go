package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/grafana"
	"github.com/lifeline-telemetry/lifeline/proto/atomicfile"
)

// envReadonlyPassword is the data source password when the config file
// holds none; Grafana's provisioned data source file reads the same name.
const envReadonlyPassword = "LIFELINE_GRAFANA_CLICKHOUSE_PASSWORD"

// newReadonlyUsers writes the users.d file that creates the ClickHouse
// user Grafana's data source logs in with.
func newReadonlyUsers(path *string) *cobra.Command {
	var out string
	var networks []string
	var level int
	cmd := &cobra.Command{
		Use:   "readonly-users",
		Short: "Write the ClickHouse users.d file for Grafana's read-only user",
		Long: "Writes a users.d file (ClickHouse 18.16 has no CREATE USER) defining grafana.datasource.username\n" +
			"with readonly = 2 (or --readonly 1), the password grafana.datasource.password (or $" + envReadonlyPassword + ") as\n" +
			"SHA-256, access to the Lifeline database only, from the given networks. ClickHouse picks the file\n" +
			"up within seconds, without a restart.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// clickhouse.database is the data source's default database.
			cfg, err := config.LoadFor(*path, config.GrafanaSection|config.ClickHouseSection)
			if err != nil {
				return err
			}
			ds := grafanaConfig(cfg).Datasource
			u := grafana.ReadonlyUser{Name: firstOf(ds.Username, grafana.DefaultDatasource().Username),
				Password: firstOf(ds.Password, os.Getenv(envReadonlyPassword)), Database: ds.Database, Networks: networks, Readonly: level}
			b, err := grafana.ReadonlyUsersXML(u)
			if err != nil {
				return err
			}
			// 0640: the file holds the password's hash; clickhouse-server
			// reads it through its group.
			if err := atomicfile.WriteFile(out, b, 0o640); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: user %s, readonly = %d, database %s, networks %v\n",
				out, u.Name, u.Readonly, u.Database, u.Networks)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "/etc/clickhouse-server/users.d/lifeline.xml", "users.d file to write")
	cmd.Flags().StringSliceVar(&networks, "network", []string{"127.0.0.1", "::1"},
		"address or CIDR Grafana connects from (repeat; default loopback only)")
	cmd.Flags().IntVar(&level, "readonly", 2, "readonly level: 2 lets Grafana set per-query settings (query timeout); "+
		"1 also forbids table functions (url, remote) but refuses any per-query setting")
	return cmd
}
