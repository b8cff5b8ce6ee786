package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kmsd/kmsd/proto/adminpb"
)

// sealCommands are the operator commands that seal and unseal one node.
func sealCommands(ad *adminCLI) []*cobra.Command {
	return []*cobra.Command{newSealStatusCmd(ad), newUnsealCmd(ad), newSealCmd(ad)}
}

type sealStatusResult struct {
	Node      string `json:"node"`
	Sealed    bool   `json:"sealed"`
	Method    string `json:"method"`
	ClusterID string `json:"cluster_id"`
	Threshold int32  `json:"threshold,omitempty"`
	Shares    int32  `json:"shares,omitempty"`
	Progress  int32  `json:"progress,omitempty"`
}

func (r sealStatusResult) writeText(w io.Writer) error {
	state := "unsealed"
	if r.Sealed {
		state = "sealed"
	}
	rows := [][2]string{{"node", r.Node}, {"state", state}, {"method", dash(r.Method)}, {"cluster id", dash(r.ClusterID)}}
	if r.Threshold > 0 {
		rows = append(rows, [2]string{"shares", fmt.Sprintf("%d of %d given, %d needed", r.Progress, r.Shares, r.Threshold)})
	}
	return writeKV(w, rows...)
}

func newSealStatusCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "seal-status",
		Short: "Show whether the node at --admin is sealed and how it unseals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				st, err := c.client.SealStatus(ctx, &adminpb.SealStatusRequest{})
				if err != nil {
					return adminErr(err, c.addr, "")
				}
				return ad.emit(sealStatusResult{Node: c.addr, Sealed: st.GetSealed(), Method: st.GetMethod(), ClusterID: st.GetClusterId(),
					Threshold: st.GetThreshold(), Shares: st.GetShares(), Progress: st.GetProgress()})
			})
		},
	}
}

type unsealResult struct {
	Node      string `json:"node"`
	Sealed    bool   `json:"sealed"`
	Remaining int32  `json:"remaining"`
}

func (r unsealResult) writeText(w io.Writer) error {
	var err error
	switch {
	case !r.Sealed:
		_, err = fmt.Fprintf(w, "%s is unsealed; it joins Raft and serves KMIP once caught up\n", r.Node)
	default:
		_, err = fmt.Fprintf(w, "share accepted; %d more needed to unseal %s\n", r.Remaining, r.Node)
	}
	return err
}

func newUnsealCmd(ad *adminCLI) *cobra.Command {
	var shareFile, passFile, pinFile string
	var reset bool
	cmd := &cobra.Command{
		Use:   "unseal",
		Short: "Give the node at --admin its passphrase, one Shamir share, or its HSM PIN",
		Long: "Give the node at --admin what unseals it: its passphrase, one Shamir share (run it once per share, by\n" +
			"different operators if you like; each run says how many are still needed), or the PIN of its HSM token.\n" +
			"Without a file flag the secret is read from the terminal without echo, or from standard input.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				req := &adminpb.UnsealRequest{Reset_: reset}
				st, err := c.client.SealStatus(ctx, &adminpb.SealStatusRequest{})
				if err != nil {
					return adminErr(err, c.addr, "")
				}
				// A file seal needs nothing from the operator: its key is in
				// the node's data folder.
				if !reset && st.GetMethod() != "file" {
					if !st.GetSealed() {
						return ad.emit(unsealResult{Node: c.addr})
					}
					secret, err := unsealSecret(cmd, st, shareFile, passFile, pinFile)
					if err != nil {
						return err
					}
					switch st.GetMethod() {
					case "passphrase":
						req.Key = &adminpb.UnsealRequest_Passphrase{Passphrase: secret}
					case "shamir":
						req.Key = &adminpb.UnsealRequest_Share{Share: string(secret)}
					case "pkcs11":
						req.Key = &adminpb.UnsealRequest_Pin{Pin: string(secret)}
					default:
						return fmt.Errorf("the node's seal method is %q, which this kmsctl does not know", st.GetMethod())
					}
					defer clear(secret)
				}
				resp, err := c.client.Unseal(ctx, req)
				if err != nil {
					return adminErr(err, c.addr, "")
				}
				return ad.emit(unsealResult{Node: c.addr, Sealed: resp.GetSealed(), Remaining: resp.GetRemaining()})
			})
		},
	}
	cmd.Flags().StringVar(&shareFile, "share-file", "", "file holding one Shamir share")
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "file holding the passphrase")
	cmd.Flags().StringVar(&pinFile, "pin-file", "", "file holding the HSM token's PIN")
	cmd.Flags().BoolVar(&reset, "reset", false, "forget the shares given so far")
	return cmd
}

// unsealSecret reads the secret the node's method needs: from the file
// flag, else from the terminal without echo, else one line of stdin.
func unsealSecret(cmd *cobra.Command, st *adminpb.SealStatusResponse, shareFile, passFile, pinFile string) ([]byte, error) {
	file, prompt := "", ""
	switch st.GetMethod() {
	case "passphrase":
		file, prompt = passFile, "Passphrase: "
	case "shamir":
		file, prompt = shareFile, fmt.Sprintf("Unseal share (%d of %d given): ", st.GetProgress(), st.GetThreshold())
	case "pkcs11":
		file, prompt = pinFile, "HSM PIN: "
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	in := cmd.InOrStdin()
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		return b, err
	}
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if line = strings.TrimRight(line, "\r\n"); line == "" {
		return nil, errors.New("no secret given: pass a file flag, or type it when asked")
	}
	return []byte(line), nil
}

type sealResult struct {
	Node   string `json:"node"`
	Sealed bool   `json:"sealed"`
}

func (r sealResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s is sealed: it forgot its keys, left Raft and refuses KMIP until unsealed\n", r.Node)
	return err
}

func newSealCmd(ad *adminCLI) *cobra.Command {
	return &cobra.Command{
		Use:   "seal",
		Short: "Seal the node at --admin: it forgets its keys, leaves Raft and refuses KMIP until unsealed",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ad.withAdmin(cmd, ad.flags.timeout, func(ctx context.Context, c *adminConn) error {
				if _, err := c.client.Seal(ctx, &adminpb.SealRequest{}); err != nil {
					return adminErr(err, c.addr, "")
				}
				return ad.emit(sealResult{Node: c.addr, Sealed: true})
			})
		},
	}
}
