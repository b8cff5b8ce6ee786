package main

import "github.com/spf13/cobra"

// newOperatorCmd groups the commands that act on a node's keys: sealing and
// unsealing it, and the cluster's keyring.
func newOperatorCmd(ad *adminCLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Seal and unseal nodes, and manage the cluster's keyring",
	}
	cmd.AddCommand(sealCommands(ad)...)
	cmd.AddCommand(keyringCommands(ad)...)
	return cmd
}
