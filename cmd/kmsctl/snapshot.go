package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmsd/kmsd/proto/adminpb"
)

// restoreChunk is the payload of one RestoreChunk, the size the server
// sends snapshots in.
const restoreChunk = 64 << 10

// snapshotTimeout is the snapshot commands' time limit unless --timeout is
// given: a large store takes longer than a membership change.
const snapshotTimeout = 10 * time.Minute

func newSnapshotCmd(ad *adminCLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Save or restore a snapshot of the cluster's state",
	}
	cmd.AddCommand(newSnapshotSaveCmd(ad), newSnapshotRestoreCmd(ad))
	return cmd
}

// snapshotResult is printed by save and restore.
type snapshotResult struct {
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Node is the admin address that served the request.
	Node string `json:"node"`
	verb string
}

func (r snapshotResult) writeText(w io.Writer) error {
	return writeKV(w, [2]string{r.verb, r.File}, [2]string{"bytes", strconv.FormatInt(r.Bytes, 10)},
		[2]string{"sha256", r.SHA256}, [2]string{"node", r.Node})
}

func newSnapshotSaveCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "save <file>",
		Short: "Stream a fresh snapshot from the node at --admin into a file",
		Long: "Stream a fresh snapshot from the node at --admin into a file. The data goes to <file>.tmp\n" +
			"first and is renamed to <file> only when the whole snapshot has arrived.\n" +
			"Unless --timeout is given, the command may take up to 10 minutes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, c, done, err := ad.dialAdminWithin(cmd, snapshotTimeout)
			if err != nil {
				return err
			}
			defer done()
			n, sum, err := saveSnapshot(ctx, c, args[0])
			if err != nil {
				return err
			}
			return ad.emit(snapshotResult{verb: "saved", File: args[0], Bytes: n, SHA256: sum, Node: c.addr})
		},
	}
}

// saveSnapshot writes the stream to file+".tmp", syncs it and renames it
// to file. Snapshots hold (sealed) key material: the file is 0600.
func saveSnapshot(ctx context.Context, c *adminConn, file string) (int64, string, error) {
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, "", fmt.Errorf("cannot create snapshot file: %w", err)
	}
	h := sha256.New()
	n, err := receiveSnapshot(ctx, c, io.MultiWriter(f, h))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return 0, "", err
	}
	return n, hexSum(h), nil
}

func receiveSnapshot(ctx context.Context, c *adminConn, w io.Writer) (int64, error) {
	stream, err := c.client.Snapshot(ctx, &adminpb.SnapshotRequest{})
	if err != nil {
		return 0, adminErr(err, c.addr, "")
	}
	var n int64
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, adminErr(err, c.addr, "")
		}
		if _, err := w.Write(chunk.GetData()); err != nil {
			return n, fmt.Errorf("cannot write snapshot file: %w", err)
		}
		n += int64(len(chunk.GetData()))
	}
}

func newSnapshotRestoreCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "restore <file>",
		Short: "Replace the whole cluster's state with a snapshot file",
		Long: "Replace the whole cluster's state with a snapshot file. Only the leader restores; when the\n" +
			"node at --admin is a follower that knows the leader, kmsctl retries once against the leader.\n" +
			"Unless --timeout is given, the command may take up to 10 minutes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("cannot read snapshot file: %w", err)
			}
			defer f.Close()
			ctx, c, done, err := ad.dialAdminWithin(cmd, snapshotTimeout)
			if err != nil {
				return err
			}
			defer done()

			n, sum, err := sendSnapshot(ctx, c, f)
			var nl *notLeaderError
			if errors.As(err, &nl) && nl.leaderAddr != "" && nl.leaderAddr != c.addr {
				fmt.Fprintf(ad.stderr, "kmsctl: %s is not the leader; retrying against the leader %s at %s\n", c.addr, nl.leaderID, nl.leaderAddr)
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return fmt.Errorf("cannot read snapshot file: %w", err)
				}
				leader, cerr := connectAdmin(c.cfg, nl.leaderAddr)
				if cerr != nil {
					return cerr
				}
				defer leader.close()
				c = leader
				n, sum, err = sendSnapshot(ctx, c, f)
			}
			if err != nil {
				return err
			}
			return ad.emit(snapshotResult{verb: "restored", File: args[0], Bytes: n, SHA256: sum, Node: c.addr})
		},
	}
}

// sendSnapshot streams r to the node and returns the size the node
// acknowledged and the SHA-256 of what was sent.
func sendSnapshot(ctx context.Context, c *adminConn, r io.Reader) (int64, string, error) {
	// The stream must not outlive an early return.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Restore(ctx)
	if err != nil {
		return 0, "", adminErr(err, c.addr, "")
	}
	h := sha256.New()
	if err := sendChunks(stream, io.TeeReader(r, h), c.addr); err != nil {
		return 0, "", err
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return 0, "", adminErr(err, c.addr, "")
	}
	return resp.GetSize(), hexSum(h), nil
}

// sendChunks sends r in restoreChunk pieces. It stops quietly when the
// server has ended the call (io.EOF from Send): CloseAndRecv has the reason.
func sendChunks(stream adminpb.Admin_RestoreClient, r io.Reader, addr string) error {
	buf := make([]byte, restoreChunk)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if serr := stream.Send(&adminpb.RestoreChunk{Data: buf[:n]}); serr == io.EOF {
				return nil
			} else if serr != nil {
				return adminErr(serr, addr, "")
			}
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return nil
		case err != nil:
			return fmt.Errorf("cannot read snapshot file: %w", err)
		}
	}
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }
