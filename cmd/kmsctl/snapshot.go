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
	"strings"
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
		Short: "Save, inspect or restore a snapshot of the cluster's state",
	}
	cmd.AddCommand(newSnapshotSaveCmd(ad), newSnapshotInspectCmd(ad), newSnapshotRestoreCmd(ad))
	return cmd
}

// snapshotResult is printed by save and restore.
type snapshotResult struct {
	File   string `json:"file"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
	// Node is the admin address that served the request.
	Node string `json:"node"`
	// Force: a restore that may roll the cluster back.
	Force bool `json:"force,omitempty"`
	verb  string
}

func (r snapshotResult) writeText(w io.Writer) error {
	pairs := [][2]string{{r.verb, r.File}, {"bytes", strconv.FormatInt(r.Bytes, 10)}, {"sha256", r.SHA256}, {"node", r.Node}}
	if r.Force {
		pairs = append(pairs, [2]string{"forced", "yes"})
	}
	return writeKV(w, pairs...)
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
			return ad.withAdmin(cmd, snapshotTimeout, func(ctx context.Context, c *adminConn) error {
				pm := ad.startProgress("snapshot save", true, 0)
				n, sum, err := saveSnapshot(ctx, c, args[0], pm.writer())
				pm.Stop()
				if err != nil {
					return err
				}
				return ad.emit(snapshotResult{verb: "saved", File: args[0], Bytes: n, SHA256: sum, Node: c.addr})
			})
		},
	}
}

// saveSnapshot writes the stream to file+".tmp", syncs it and renames it
// to file. Snapshots hold (sealed) key material: the file is 0600.
func saveSnapshot(ctx context.Context, c *adminConn, file string, progress io.Writer) (int64, string, error) {
	tmp := file + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, "", fmt.Errorf("cannot create snapshot file: %w", err)
	}
	h := sha256.New()
	n, err := receiveSnapshot(ctx, c, io.MultiWriter(f, h, progress))
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
	var force bool
	cmd := &cobra.Command{
		Use:   "restore <file>",
		Short: "Replace the whole cluster's state with a snapshot file",
		Long: "Replace the whole cluster's state with a snapshot file. Only the leader restores; when the\n" +
			"node at --admin is a follower that knows the leader, kmsctl retries once against the leader.\n" +
			"The cluster refuses a snapshot of another cluster, a damaged or edited file (its MAC does not\n" +
			"verify), and a snapshot older than its state unless --force is given; a cluster that holds no\n" +
			"objects yet, such as a new one built to recover from the snapshot, accepts it without --force.\n" +
			"`kmsctl snapshot inspect` says beforehand what restore would do.\n" +
			"Unless --timeout is given, the command may take up to 10 minutes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("cannot read snapshot file: %w", err)
			}
			defer f.Close()
			var size int64
			if st, err := f.Stat(); err == nil {
				size = st.Size()
			}
			return ad.withAdmin(cmd, snapshotTimeout, func(ctx context.Context, c *adminConn) error {
				pm := ad.startProgress("snapshot restore", true, size)
				defer func() { pm.Stop() }()
				n, sum, err := sendSnapshot(ctx, c, io.TeeReader(f, pm.writer()), force)
				var nl *notLeaderError
				if errors.As(err, &nl) && nl.leaderAddr != "" && nl.leaderAddr != c.addr {
					pm.Stop()
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
					pm = ad.startProgress("snapshot restore to "+nl.leaderAddr, true, size)
					n, sum, err = sendSnapshot(ctx, c, io.TeeReader(f, pm.writer()), force)
				}
				if err != nil {
					return err
				}
				return ad.emit(snapshotResult{verb: "restored", File: args[0], Bytes: n, SHA256: sum, Node: c.addr, Force: force})
			})
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "restore even a snapshot older than the cluster's state: a rollback")
	return cmd
}

// sendSnapshot streams r to the node and returns the size the node
// acknowledged and the SHA-256 of what was sent.
func sendSnapshot(ctx context.Context, c *adminConn, r io.Reader, force bool) (int64, string, error) {
	// The stream must not outlive an early return.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.Restore(ctx)
	if err != nil {
		return 0, "", adminErr(err, c.addr, "")
	}
	h := sha256.New()
	if err := sendChunks(stream, io.TeeReader(r, h), c.addr, force); err != nil {
		return 0, "", err
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return 0, "", adminErr(err, c.addr, "")
	}
	return resp.GetSize(), hexSum(h), nil
}

// chunkSender is the client side of Restore and InspectSnapshot.
type chunkSender interface {
	Send(*adminpb.RestoreChunk) error
}

// sendChunks sends r in restoreChunk pieces, force in the first. It stops
// quietly when the server has ended the call (io.EOF from Send):
// CloseAndRecv has the reason.
func sendChunks(stream chunkSender, r io.Reader, addr string, force bool) error {
	buf := make([]byte, restoreChunk)
	for first := true; ; first = false {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if serr := stream.Send(&adminpb.RestoreChunk{Data: buf[:n], Force: force && first}); serr == io.EOF {
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

// inspectResult is what snapshot inspect prints: the file's header as
// written, and the node's verdict.
type inspectResult struct {
	File         string   `json:"file"`
	Format       uint32   `json:"format"`
	ClusterID    string   `json:"cluster_id"`
	Index        uint64   `json:"index"`
	Term         uint64   `json:"term"`
	KeyVersions  []uint32 `json:"key_versions"`
	Created      string   `json:"created"`
	Size         int64    `json:"size"`
	MACValid     bool     `json:"mac_valid"`
	SameCluster  bool     `json:"same_cluster"`
	CurrentIndex uint64   `json:"current_index"`
	// Accepted: restore would accept the file without --force; Refusal
	// says why not otherwise.
	Accepted bool   `json:"restore_accepted"`
	Refusal  string `json:"refusal,omitempty"`
	Node     string `json:"node"`
}

func (r inspectResult) writeText(w io.Writer) error {
	versions := "none"
	if len(r.KeyVersions) > 0 {
		vs := make([]string, len(r.KeyVersions))
		for i, v := range r.KeyVersions {
			vs[i] = strconv.FormatUint(uint64(v), 10)
		}
		versions = strings.Join(vs, ", ")
	}
	mac, cluster := "valid", "this cluster"
	if !r.MACValid {
		mac = "does not verify under this cluster's root key"
	}
	if !r.SameCluster {
		cluster = "another cluster"
		mac = "not checked: the key of another cluster is not here"
	}
	verdict := "restore would be accepted"
	if !r.Accepted {
		verdict = "restore would be refused: " + r.Refusal
	}
	return writeKV(w, [2]string{"file", r.File}, [2]string{"format", strconv.FormatUint(uint64(r.Format), 10)},
		[2]string{"cluster id", r.ClusterID + " (" + cluster + ")"}, [2]string{"index", strconv.FormatUint(r.Index, 10)},
		[2]string{"term", strconv.FormatUint(r.Term, 10)}, [2]string{"key versions", versions}, [2]string{"created", r.Created},
		[2]string{"size", strconv.FormatInt(r.Size, 10) + " bytes"}, [2]string{"mac", mac},
		[2]string{"current index", strconv.FormatUint(r.CurrentIndex, 10)}, [2]string{"verdict", verdict}, [2]string{"node", r.Node})
}

func newSnapshotInspectCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect <file>",
		Short: "Show a snapshot file's header and whether the cluster would restore it",
		Long: "Send a snapshot file to the node at --admin, which reads its header, verifies its MAC under the\n" +
			"cluster's root key and says whether `kmsctl snapshot restore` would accept it. Nothing changes.\n" +
			"Unless --timeout is given, the command may take up to 10 minutes.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("cannot read snapshot file: %w", err)
			}
			defer f.Close()
			return ad.withAdmin(cmd, snapshotTimeout, func(ctx context.Context, c *adminConn) error {
				resp, err := inspectSnapshot(ctx, c, f)
				if err != nil {
					return err
				}
				r := inspectResult{
					File: args[0], Format: resp.GetFormat(), ClusterID: resp.GetClusterId(), Index: resp.GetIndex(), Term: resp.GetTerm(),
					KeyVersions: resp.GetKeyVersions(), Size: resp.GetSize(), MACValid: resp.GetMacValid(), SameCluster: resp.GetSameCluster(),
					CurrentIndex: resp.GetCurrentIndex(), Accepted: resp.GetRefusal() == "", Refusal: forceHint(resp.GetRefusal()), Node: c.addr,
				}
				if r.KeyVersions == nil {
					r.KeyVersions = []uint32{}
				}
				if ns := resp.GetCreatedUnixNano(); ns != 0 {
					r.Created = time.Unix(0, ns).UTC().Format(time.RFC3339)
				}
				return ad.emit(r)
			})
		},
	}
}

func inspectSnapshot(ctx context.Context, c *adminConn, r io.Reader) (*adminpb.InspectSnapshotResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.InspectSnapshot(ctx)
	if err != nil {
		return nil, adminErr(err, c.addr, "")
	}
	if err := sendChunks(stream, r, c.addr, false); err != nil {
		return nil, err
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, adminErr(err, c.addr, "")
	}
	return resp, nil
}

// forceHint words the server's "set force" as kmsctl's flag.
func forceHint(msg string) string {
	return strings.NewReplacer("Set force", "Add --force", "set force", "add --force").Replace(msg)
}
