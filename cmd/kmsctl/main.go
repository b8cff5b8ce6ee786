package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes kmsctl and returns the process exit code. Errors are one
// line on stderr; a panic is reported the same way, without a stack.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "kmsctl: internal error: %v\n", r)
			code = 1
		}
	}()
	cmd := newRootCmd(stdout, stderr)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintf(stderr, "kmsctl: %v\n", err)
		return 1
	}
	return 0
}

// app holds what the subcommands share: the global flags and the output
// streams.
type app struct {
	flags  globalFlags
	stdout io.Writer
	stderr io.Writer
	root   *cobra.Command
	getenv func(string) string
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	a := &app{stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := &cobra.Command{
		Use:           "kmsctl",
		Short:         "Operate a kmsd key management cluster",
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return checkFormat(a.flags.output)
		},
	}
	a.root = root
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Errors are printed once, by run, with the kmsctl: prefix.
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })

	pf := root.PersistentFlags()
	pf.StringVar(&a.flags.server, "server", defaultServer, "KMIP server address host:port, or a comma-separated list tried in order until one answers\n(env "+envServer+")")
	pf.StringVar(&a.flags.ca, "ca", "", "CA certificate file to verify the server (env "+envCA+"; default: system roots)")
	pf.StringVar(&a.flags.cert, "cert", "", "client certificate file (env "+envCert+")")
	pf.StringVar(&a.flags.key, "key", "", "client private key file (env "+envKey+")")
	pf.StringVar(&a.flags.devDir, "dev-dir", "", "kmsd dev data directory: use its pki/ca.pem, pki/client.pem and pki/client.key\n(pki/node-ca.pem, pki/admin.pem and pki/admin.key for admin commands) for whatever\n--ca/--cert/--key/--admin-ca/--admin-cert/--admin-key leave unset (env "+envDevDir+")")
	pf.StringVar(&a.flags.kmipVersion, "kmip-version", "", "KMIP protocol version 1.0-1.4 (default: negotiate with Discover Versions)")
	pf.StringVarP(&a.flags.output, "output", "o", formatTable, "output format: table or json")
	pf.DurationVar(&a.flags.timeout, "timeout", 10*time.Second, "time limit for the whole command")
	pf.BoolVar(&a.flags.progress, "progress", false, "show the progress of snapshot save and restore and cluster join on stderr\neven when it is not a terminal")
	pf.BoolVarP(&a.flags.verbose, "verbose", "v", false, "say on stderr which address answered, and why others were skipped")

	ad := newAdminCLI(a, pf)
	root.AddCommand(newKeyCmd(a), newQueryCmd(a), newDiscoverCmd(a), newBenchCmd(a), newVersionCmd(a), newClusterCmd(ad), newSnapshotCmd(ad), newStatusCmd(ad), newOperatorCmd(ad), newPolicyCmd(ad), newPKICmd(ad), newAuditCmd(ad))
	requireSubcommands(root)
	return root
}

// connect resolves the connection settings and dials the server. The
// returned context carries the --timeout deadline.
func (a *app) connect(cmd *cobra.Command) (context.Context, *session, func(), error) {
	cfg, err := resolveConn(a.flags, a.root.PersistentFlags().Changed, a.getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	if a.flags.verbose {
		cfg.log = a.stderr
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), a.flags.timeout)
	s, err := dial(ctx, cfg)
	if err != nil {
		cancel()
		return nil, nil, nil, err
	}
	return ctx, s, func() { _ = s.Close(); cancel() }, nil
}

func (a *app) emit(r result) error {
	return emit(a.stdout, a.flags.output, r)
}

type versionResult struct {
	Version string `json:"version"`
	Go      string `json:"go"`
	Commit  string `json:"commit,omitempty"`
}

func (r versionResult) writeText(w io.Writer) error {
	s := "kmsctl " + r.Version + " (" + r.Go
	if r.Commit != "" {
		s += ", " + r.Commit
	}
	_, err := fmt.Fprintln(w, s+")")
	return err
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the kmsctl version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			r := versionResult{Version: version, Go: runtime.Version()}
			if bi, ok := debug.ReadBuildInfo(); ok {
				if version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
					r.Version = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						r.Commit = s.Value
					}
				}
			}
			return a.emit(r)
		},
	}
}
