package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeline-telemetry/lifeline/aggregator/config"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify"
	"github.com/lifeline-telemetry/lifeline/aggregator/notify/channel"
)

// newNotifyTest sends a test message to configured recipients, so that a
// robot's URL, secret and keyword, or the mail server, are checked before
// an alarm depends on them.
func newNotifyTest(path *string) *cobra.Command {
	var names []string
	cmd := &cobra.Command{
		Use:   "notify-test",
		Short: "Send a test notification to the configured recipients",
		Long: "Sends one test message to each recipient of notify.recipients (or those named by --recipient)\n" +
			"and reports each delivery; exits non-zero if any failed. Nothing is written to ClickHouse.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.LoadFor(*path, config.NotifySection)
			if err != nil {
				return err
			}
			if len(cfg.Notify.Recipients) == 0 {
				return errors.New("notify.recipients is empty")
			}
			senders := notify.NewSenders(cfg.Notify, nil)
			if len(names) == 0 {
				for name := range senders {
					names = append(names, name)
				}
				slices.Sort(names)
			}
			now := time.Now()
			var failed []error
			for _, name := range names {
				s, ok := senders[name]
				if !ok {
					failed = append(failed, fmt.Errorf("%s: not in notify.recipients", name))
					continue
				}
				msg := channel.Message{ID: fmt.Sprintf("test-%d", now.UnixNano()), Subject: "【测试】生命线报警通知测试",
					Text: "这是一条测试消息，收到即说明报警通知配置正确。\n发送时间: " + now.Format(time.RFC3339)}
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				err := s.Send(ctx, msg)
				cancel()
				if err != nil {
					failed = append(failed, fmt.Errorf("%s: %w", name, err))
					fmt.Fprintf(cmd.OutOrStdout(), "%s (%s): FAILED: %v\n", name, cfg.Notify.Recipients[name].Type, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s (%s): sent\n", name, cfg.Notify.Recipients[name].Type)
			}
			return errors.Join(failed...)
		},
	}
	cmd.Flags().StringSliceVar(&names, "recipient", nil, "recipient to test (repeat; default all)")
	return cmd
}
