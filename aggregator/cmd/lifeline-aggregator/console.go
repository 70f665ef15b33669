package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lifeline-telemetry/lifeline/aggregator/console"
)

// newConsoleCmd groups the alarm console's helpers.
func newConsoleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "console", Short: "Helpers for the alarm acknowledgement console"}
	cmd.AddCommand(&cobra.Command{
		Use:   "passwd",
		Short: "Print the bcrypt hash of a password for the console's users file",
		Long: `passwd reads a password (twice, without echo, on a terminal; else the first
line of standard input) and prints its bcrypt hash, for password_hash in
the users file (console.users_file).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pw, err := readPassword(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			hash, err := console.HashPassword(pw)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), hash)
			return nil
		},
	})
	return cmd
}

// readPassword asks twice on a terminal; from a pipe it takes one line.
func readPassword(in io.Reader, prompt io.Writer) (string, error) {
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		ask := func(p string) (string, error) {
			fmt.Fprint(prompt, p)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(prompt)
			return string(b), err
		}
		first, err := ask("Password: ")
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		again, err := ask("Again: ")
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if first != again {
			return "", errors.New("the passwords differ")
		}
		return first, nil
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}
