package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestUnknownSubcommand walks every command that groups others: an unknown
// subcommand exits 1 with one line naming the valid ones; no subcommand
// prints the help and exits 0.
func TestUnknownSubcommand(t *testing.T) {
	clearEnv(t)
	var groups []*cobra.Command
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() {
			groups = append(groups, c)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(io.Discard, io.Discard))
	if len(groups) < 8 {
		t.Fatalf("found %d group commands", len(groups))
	}
	for _, g := range groups {
		path := strings.Fields(g.CommandPath())[1:]
		t.Run(g.CommandPath(), func(t *testing.T) {
			out, errOut, code := kmsctl(t, append(path, "no-such-command")...)
			if code != 1 || out != "" || strings.Count(errOut, "\n") != 1 ||
				!strings.Contains(errOut, `unknown command "no-such-command" for "`+g.CommandPath()+`"; valid commands: `) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			for _, sub := range g.Commands() {
				if sub.IsAvailableCommand() && !strings.Contains(errOut, sub.Name()) {
					t.Errorf("stderr %q does not name %s", errOut, sub.Name())
				}
			}
			out, errOut, code = kmsctl(t, path...)
			if code != 0 || errOut != "" || !strings.Contains(out, "Available Commands:") {
				t.Errorf("without a subcommand: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
	_, errOut, code := kmsctl(t, "key", "creat")
	if code != 1 || !strings.Contains(errOut, "did you mean create or create-pair?") {
		t.Errorf("a near miss: exit %d, %q", code, errOut)
	}
}
