package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kmsd/kmsd/proto/adminpb"
)

// keyringCommands are the operator commands on the cluster's keyring of
// data keys: rotate, rewrap, retire and the listing.
func keyringCommands(ad *adminCLI) []*cobra.Command {
	return []*cobra.Command{newRotateCmd(ad), newRewrapCmd(ad), newRetireCmd(ad), newKeyringCmd(ad)}
}

// rewrapTimeout is rewrap's time limit unless --timeout is given: it walks
// every object.
const rewrapTimeout = 24 * time.Hour

// keyringErr is adminErr with the keyring's own answers: a command that
// lost a race, and a node without a keyring.
func keyringErr(err error, addr string) error {
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Aborted:
			return errors.New(st.Message())
		case codes.Unimplemented:
			return fmt.Errorf("the node at %s: %s", addr, st.Message())
		}
	}
	return adminErr(err, addr, "")
}

type rotateResult struct {
	Version uint32 `json:"version"`
}

func (r rotateResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "data key version %d created; new objects are sealed with it.\n"+
		"Re-seal the existing ones with `kmsctl operator rewrap`.\n", r.Version)
	return err
}

func newRotateCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Add a new data key version to the keyring; new objects are sealed with it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.RotateKey(ctx, &adminpb.RotateKeyRequest{})
				if err != nil {
					return keyringErr(err, c.addr)
				}
				return ad.emit(rotateResult{Version: resp.GetVersion()})
			})
		},
	}
}

// rewrapResult is the final progress of a rewrap.
type rewrapResult struct {
	Version   uint32 `json:"version"`
	Total     int64  `json:"total"`
	Current   int64  `json:"current"`
	Rewrapped int64  `json:"rewrapped"`
	Skipped   int64  `json:"skipped"`
	Done      bool   `json:"done"`
}

func rewrapResultOf(p *adminpb.RewrapProgress) rewrapResult {
	return rewrapResult{Version: p.GetVersion(), Total: p.GetTotal(), Current: p.GetCurrent(),
		Rewrapped: p.GetRewrapped(), Skipped: p.GetSkipped(), Done: p.GetDone()}
}

// line is one progress line: counts and percent of the objects seen.
func (r rewrapResult) line() string {
	seen := r.Current + r.Rewrapped + r.Skipped
	pct := int64(100)
	if r.Total > 0 {
		pct = min(100, seen*100/r.Total)
	}
	return fmt.Sprintf("rewrap to version %d: %d/%d objects (%d%%): %d rewrapped, %d already current, %d skipped",
		r.Version, seen, r.Total, pct, r.Rewrapped, r.Current, r.Skipped)
}

func (r rewrapResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "rewrap done: %d objects under data key version %d (%d rewrapped now, %d already current, %d skipped)\n",
		r.Current+r.Rewrapped, r.Version, r.Rewrapped, r.Current, r.Skipped)
	if err == nil && r.Skipped > 0 {
		_, err = fmt.Fprintln(w, "Skipped objects changed meanwhile or do not open (the node's log names them); run rewrap again.")
	}
	return err
}

// progressView shows rewrap progress on stderr: one carriage-return line
// that updates in place on a terminal, one line per batch otherwise.
type progressView struct {
	w        io.Writer
	terminal bool
	shown    bool
}

func newProgressView(w io.Writer) *progressView {
	f, ok := w.(*os.File)
	return &progressView{w: w, terminal: ok && term.IsTerminal(int(f.Fd()))}
}

func (v *progressView) show(r rewrapResult) {
	if v.terminal {
		fmt.Fprintf(v.w, "\r\033[K%s", r.line())
	} else {
		fmt.Fprintln(v.w, r.line())
	}
	v.shown = true
}

// end finishes the in-place line.
func (v *progressView) end() {
	if v.terminal && v.shown {
		fmt.Fprintln(v.w)
	}
}

func newRewrapCmd(ad *adminCLI) *cobra.Command {
	var batch int32
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Re-seal every object under the newest data key version, showing progress",
		Long: "Re-seal every object under the newest data key version, in batches of --batch objects per log entry.\n" +
			"Progress goes to stderr, the summary to stdout (-o json: the final progress). Interrupted, it is\n" +
			"safe to run again: it continues with the objects not yet re-sealed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch < 0 {
				return errors.New("--batch must not be negative")
			}
			return ad.withAdmin(cmd, rewrapTimeout, func(ctx context.Context, c *adminConn) error {
				stream, err := c.client.Rewrap(ctx, &adminpb.RewrapRequest{Batch: batch})
				if err != nil {
					return keyringErr(err, c.addr)
				}
				view := newProgressView(ad.stderr)
				var last rewrapResult
				for {
					p, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						view.end()
						return keyringErr(err, c.addr)
					}
					last = rewrapResultOf(p)
					view.show(last)
				}
				view.end()
				if !last.Done {
					return errors.New("the rewrap ended before it was done; run it again to continue")
				}
				return ad.emit(last)
			})
		},
	}
	cmd.Flags().Int32Var(&batch, "batch", 0, "objects per log entry (0: the node's default, 256; at most 1024)")
	return cmd
}

type retireResult struct {
	Retired uint32 `json:"retired"`
}

func (r retireResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "data key version %d retired; every node replaces the root key, so copies of the old keyring open no more.\n", r.Retired)
	return err
}

func newRetireCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "retire VERSION",
		Short: "Remove a data key version that no object uses, and replace the root key",
		Long: "Remove a data key version that is not the newest and seals no object any more (run rewrap first).\n" +
			"The root key is replaced at the same time, on every node, so that copies of the old keyring in old\n" +
			"snapshots, old log entries and free pages open no more. A node that is down catches up when it next\n" +
			"starts; one that misses two such retires and whose log the leader has compacted must rejoin.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := strconv.ParseUint(args[0], 10, 32)
			if err != nil || v == 0 {
				return fmt.Errorf("invalid version %q: want a data key version (1, 2, ...), see `kmsctl operator keyring`", args[0])
			}
			return ad.withAdmin(cmd, time.Minute, func(ctx context.Context, c *adminConn) error {
				if _, err := c.client.RetireKey(ctx, &adminpb.RetireKeyRequest{Version: uint32(v)}); err != nil {
					return keyringErr(err, c.addr)
				}
				return ad.emit(retireResult{Retired: uint32(v)})
			})
		},
	}
}

type keyVersionJSON struct {
	Version uint32    `json:"version"`
	Created time.Time `json:"created"`
	Objects int64     `json:"objects"`
	Newest  bool      `json:"newest"`
}

type keyringResult struct {
	Versions   []keyVersionJSON `json:"versions"`
	Unreadable int64            `json:"unreadable"`
}

func (r keyringResult) writeText(w io.Writer) error {
	rows := make([][]string, len(r.Versions))
	for i, v := range r.Versions {
		newest := ""
		if v.Newest {
			newest = "*"
		}
		rows[i] = []string{strconv.FormatUint(uint64(v.Version), 10), v.Created.Format(time.RFC3339), strconv.FormatInt(v.Objects, 10), newest}
	}
	if err := writeTable(w, []string{"VERSION", "CREATED", "OBJECTS", "NEWEST"}, rows); err != nil {
		return err
	}
	if r.Unreadable > 0 {
		_, err := fmt.Fprintf(w, "%d objects name no data key version this node reads\n", r.Unreadable)
		return err
	}
	return nil
}

func newKeyringCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "keyring",
		Short: "List the data key versions and how many objects each seals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				resp, err := c.client.Keyring(ctx, &adminpb.KeyringRequest{})
				if err != nil {
					return keyringErr(err, c.addr)
				}
				r := keyringResult{Versions: []keyVersionJSON{}, Unreadable: resp.GetUnreadable()}
				for _, v := range resp.GetVersions() {
					r.Versions = append(r.Versions, keyVersionJSON{Version: v.GetVersion(), Created: time.Unix(0, v.GetCreatedUnixNano()).UTC(),
						Objects: v.GetObjects(), Newest: v.GetLatest()})
				}
				return ad.emit(r)
			})
		},
	}
}
