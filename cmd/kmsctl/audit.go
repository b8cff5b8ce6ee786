package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kmsd/kmsd/proto/adminpb"
)

// auditChunk is the payload of one AuditLogChunk.
const auditChunk = 64 << 10

// auditTimeout is audit verify's time limit unless --timeout is given.
const auditTimeout = 10 * time.Minute

// errAuditBad makes the exit status 1 once the report is printed.
var errAuditBad = errors.New("the audit log does not verify")

func newAuditCmd(ad *adminCLI) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Verify kmsd's audit log",
	}
	cmd.AddCommand(newAuditVerifyCmd(ad))
	return cmd
}

func newAuditVerifyCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "verify <file>...",
		Short: "Check audit log files for edits, deletions, insertions and reordering",
		Long: "Stream audit log files to the node at --admin, which checks them as one chain under the cluster's\n" +
			"audit keys (the keys never leave the node) and reports the first bad line and what is wrong with it:\n" +
			"truncated, malformed, modified, bad-mac, deleted, inserted, reordered, restarted or unverifiable.\n" +
			"Give rotated files oldest first: audit.log.3 audit.log.2 audit.log.1 audit.log. A file that starts\n" +
			"mid-chain verifies from its first line. Needs an operator certificate. Exit status 0 when the files\n" +
			"verify, 1 otherwise. Unless --timeout is given, the command may take up to 10 minutes.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			files := make([]*os.File, 0, len(args))
			defer func() {
				for _, f := range files {
					f.Close()
				}
			}()
			for _, name := range args {
				f, err := os.Open(name)
				if err != nil {
					return fmt.Errorf("cannot read audit log: %w", err)
				}
				files = append(files, f)
			}
			return ad.withAdmin(cmd, auditTimeout, func(ctx context.Context, c *adminConn) error {
				resp, err := verifyAudit(ctx, c, args, files)
				if err != nil {
					return err
				}
				r := newAuditResult(args, resp, c.addr)
				if err := ad.emit(r); err != nil {
					return err
				}
				if !r.OK {
					return errAuditBad
				}
				return nil
			})
		},
	}
}

// verifyAudit streams the files in order and returns the node's report.
func verifyAudit(ctx context.Context, c *adminConn, names []string, files []*os.File) (*adminpb.VerifyAuditLogResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.client.VerifyAuditLog(ctx)
	if err != nil {
		return nil, adminErr(err, c.addr, "")
	}
	buf := make([]byte, auditChunk)
send:
	for i, f := range files {
		first := true
		for {
			n, rerr := io.ReadFull(f, buf)
			if n > 0 || first {
				chunk := &adminpb.AuditLogChunk{Data: buf[:n]}
				if first {
					chunk.File = names[i]
				}
				if err := stream.Send(chunk); errors.Is(err, io.EOF) {
					// The node ended the call; CloseAndRecv says why.
					break send
				} else if err != nil {
					return nil, adminErr(err, c.addr, "")
				}
				first = false
			}
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
				break
			}
			if rerr != nil {
				return nil, fmt.Errorf("cannot read audit log %s: %w", names[i], rerr)
			}
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, adminErr(err, c.addr, "")
	}
	return resp, nil
}

// auditPosition is a line of one of the files.
type auditPosition struct {
	File string `json:"file"`
	Line int64  `json:"line"`
}

func (p auditPosition) String() string { return p.File + ":" + strconv.FormatInt(p.Line, 10) }

// auditProblem is the first bad line.
type auditProblem struct {
	auditPosition
	Seq    uint64 `json:"seq,omitempty"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// auditResult is what audit verify prints.
type auditResult struct {
	OK          bool          `json:"ok"`
	Files       []string      `json:"files"`
	Lines       int64         `json:"lines"`
	Start       auditPosition `json:"start"`
	FirstSeq    uint64        `json:"first_seq"`
	MidChain    bool          `json:"mid_chain"`
	LastSeq     uint64        `json:"last_seq"`
	KeyVersions []uint32      `json:"key_versions"`
	Unkeyed     int64         `json:"unkeyed_lines"`
	UnkeyedTail int64         `json:"unkeyed_tail"`
	Problem     *auditProblem `json:"problem,omitempty"`
	Node        string        `json:"node"`
}

func newAuditResult(files []string, resp *adminpb.VerifyAuditLogResponse, node string) auditResult {
	r := auditResult{
		OK: resp.GetOk(), Files: files, Lines: resp.GetLines(), FirstSeq: resp.GetFirstSeq(), MidChain: resp.GetMidChain(),
		LastSeq: resp.GetLastSeq(), KeyVersions: resp.GetKeyVersions(), Unkeyed: resp.GetUnkeyed(), UnkeyedTail: resp.GetUnkeyedTail(),
		Start: auditPosition{File: resp.GetStart().GetFile(), Line: resp.GetStart().GetLine()}, Node: node,
	}
	if r.KeyVersions == nil {
		r.KeyVersions = []uint32{}
	}
	if p := resp.GetProblem(); p != nil {
		r.OK = false
		r.Problem = &auditProblem{
			auditPosition: auditPosition{File: p.GetPosition().GetFile(), Line: p.GetPosition().GetLine()},
			Seq:           p.GetSeq(), Kind: p.GetKind(), Detail: p.GetDetail(),
		}
	}
	return r
}

func (r auditResult) writeText(w io.Writer) error {
	pairs := [][2]string{{"files", strings.Join(r.Files, ", ")}, {"lines", strconv.FormatInt(r.Lines, 10)}}
	if r.FirstSeq > 0 {
		start := fmt.Sprintf("%s (seq %d, the start of the chain)", r.Start, r.FirstSeq)
		if r.MidChain {
			start = fmt.Sprintf("%s (seq %d: the chain starts earlier, in lines not given)", r.Start, r.FirstSeq)
		}
		last := "last seq"
		if r.Problem != nil {
			last = "last good seq"
		}
		pairs = append(pairs, [2]string{"first line", start}, [2]string{last, strconv.FormatUint(r.LastSeq, 10)})
	}
	versions := "none"
	if len(r.KeyVersions) > 0 {
		vs := make([]string, len(r.KeyVersions))
		for i, v := range r.KeyVersions {
			vs[i] = strconv.FormatUint(uint64(v), 10)
		}
		versions = strings.Join(vs, ", ")
	}
	pairs = append(pairs, [2]string{"key versions", versions})
	if r.Unkeyed > 0 {
		unkeyed := strconv.FormatInt(r.Unkeyed, 10) + " (written while the node was sealed: chained, not authenticated)"
		if r.UnkeyedTail > 0 {
			unkeyed += fmt.Sprintf("; the last %d are covered by no keyed line", r.UnkeyedTail)
		}
		pairs = append(pairs, [2]string{"unkeyed lines", unkeyed})
	}
	result := "ok"
	if p := r.Problem; p != nil {
		seq := ""
		if p.Seq > 0 {
			seq = fmt.Sprintf(" (seq %d)", p.Seq)
		}
		result = fmt.Sprintf("BAD at %s%s: %s: %s", p.auditPosition, seq, p.Kind, p.Detail)
	} else if !r.OK {
		result = "BAD"
	}
	pairs = append(pairs, [2]string{"result", result}, [2]string{"node", r.Node})
	return writeKV(w, pairs...)
}
