//go:build !windows

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func runMain(root *cobra.Command) error { return root.Execute() }

// newServiceCmd exists on every system so that a Windows how-to tried on
// Linux says where the service is instead of "unknown command".
func newServiceCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "service",
		Short:  "Manage the Windows service (Windows only)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("service: Windows only; on Linux the systemd unit lifeline-agent.service runs the agent (systemctl enable --now lifeline-agent)")
		},
	}
}
