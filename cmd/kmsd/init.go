package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kmsd/kmsd/cluster/seal"
)

// runInit creates the root key of a new cluster in a data folder and
// protects it with the chosen seal. A shamir seal's shares are printed
// here once and stored nowhere.
func runInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kmsd init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "the new cluster's first node's data folder")
	var s sealFlags
	s.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *dataDir == "" {
		return errors.New("init needs --data-dir")
	}
	opts, err := s.options(true)
	if err != nil {
		return err
	}
	defer clear(opts.Passphrase)
	if opts.Method == seal.MethodPassphrase && len(opts.Passphrase) == 0 {
		return fmt.Errorf("the passphrase seal needs a passphrase: --unseal-passphrase-file, %s, or run kmsd init on a terminal", envUnsealPassphrase)
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	b := seal.NewBarrier(nil)
	shares, err := b.Init(*dataDir, opts)
	if err != nil {
		return err
	}
	id := b.ClusterID()
	b.Seal()
	fmt.Fprintf(stdout, "Initialised a new cluster in %s\n  cluster id  %s\n  seal        %s\n", *dataDir, id, opts.Method)
	if len(shares) > 0 {
		fmt.Fprintf(stdout, "\nUnseal shares (any %d of these %d unseal a node). They are shown only now and stored nowhere:\n"+
			"hand each to a different operator.\n\n", opts.Threshold, len(shares))
		for i, sh := range shares {
			fmt.Fprintf(stdout, "  share %d: %s\n", i+1, sh)
		}
		clear(shares)
	}
	next := "kmsd serve --bootstrap --data-dir " + *dataDir + " ..."
	fmt.Fprintf(stdout, "\nNext: start the node with\n  %s\n", next)
	switch opts.Method {
	case seal.MethodPassphrase:
		fmt.Fprintf(stdout, "It unseals with --unseal-passphrase-file, %s or a prompt; without one it starts sealed until\n  kmsctl --admin <addr> operator unseal\n", envUnsealPassphrase)
	case seal.MethodShamir:
		fmt.Fprintln(stdout, "It starts sealed; unseal it by running, once per share,\n  kmsctl --admin <addr> operator unseal")
	case seal.MethodPKCS11:
		fmt.Fprintf(stdout, "It unseals with --pkcs11-pin-file or %s and the same --pkcs11-* flags.\n", envPKCS11PIN)
	}
	if opts.Method != seal.MethodFile {
		fmt.Fprintln(stdout, "Give it the same --seal "+strings.ToLower(string(opts.Method))+" flags, so that nodes joining it protect the root key the same way.")
	}
	return nil
}
