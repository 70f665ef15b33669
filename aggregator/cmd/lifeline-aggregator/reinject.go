package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// newReinject stores again a batch set aside in rejected_batches, once
// whatever made ClickHouse refuse it is fixed.
func newReinject(path *string) *cobra.Command {
	var (
		site, buffer string
		seq          uint64
	)
	cmd := &cobra.Command{
		Use:   "reinject --site SITE --buffer BUFFER_ID --seq N",
		Short: "Store again the rows of a batch ClickHouse refused (rejected_batches), once the cause is fixed",
		Long: `reinject reads the newest rejected_batches record of the batch, inserts
its rows that samples does not hold yet, and marks the record reinjected.
If ClickHouse still refuses them, the record stays as it was.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if site == "" || seq == 0 {
				return fmt.Errorf("--site and --seq are required")
			}
			st, _, err := openStore(cmd.Context(), *path)
			if err != nil {
				return err
			}
			defer st.Close()
			n, err := st.Reinject(cmd.Context(), site, buffer, seq)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "batch %s/%d: %d samples stored\n", site, seq, n)
			return nil
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "site id of the batch")
	cmd.Flags().StringVar(&buffer, "buffer", "", "buffer_id of the batch, as rejected_batches shows it (empty for agents older than buffer identities)")
	cmd.Flags().Uint64Var(&seq, "seq", 0, "sequence number of the batch")
	return cmd
}
