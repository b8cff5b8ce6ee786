package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// requireSubcommands makes every command that only groups others (root
// included) refuse an unknown subcommand. Cobra's default for a command
// with subcommands and no Run prints its help and exits 0, so a typo in a
// script passes silently. Without arguments the help is still printed.
func requireSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		requireSubcommands(c)
	}
	if !cmd.HasSubCommands() || cmd.Run != nil || cmd.RunE != nil {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return c.Help()
		}
		return unknownSubcommand(c, args[0])
	}
}

// unknownSubcommand names the valid subcommands, and the closest ones.
func unknownSubcommand(cmd *cobra.Command, name string) error {
	var valid []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			valid = append(valid, c.Name())
		}
	}
	msg := fmt.Sprintf("unknown command %q for %q; valid commands: %s", name, cmd.CommandPath(), strings.Join(valid, ", "))
	if s := cmd.SuggestionsFor(name); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
	}
	return fmt.Errorf("%s", msg)
}
