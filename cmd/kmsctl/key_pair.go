package main

import (
	"fmt"
	"io"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/spf13/cobra"
)

// pairResult is printed by `key create-pair`.
type pairResult struct {
	PrivateID string `json:"private_key_id"`
	PublicID  string `json:"public_key_id"`
	Activated bool   `json:"activated,omitempty"`
}

func (r pairResult) writeText(w io.Writer) error {
	return writeKV(w, [2]string{"private key", r.PrivateID}, [2]string{"public key", r.PublicID})
}

func newKeyCreatePairCmd(a *app) *cobra.Command {
	var (
		alg, name, publicName, group string
		usage, publicUsage           []string
		activate                     bool
	)
	cmd := &cobra.Command{
		Use:   "create-pair",
		Short: "Create an RSA or EC key pair on the server and print both ids",
		Long: "Create an RSA or EC key pair on the server (KMIP Create Key Pair) and print both ids.\n" +
			"The two keys are linked to each other. --name names the private key, --public-name the public one\n" +
			"(default: the --name followed by -public).",
		Example: `  kmsctl key create-pair --alg rsa-3072 --name signer
  kmsctl key create-pair --alg ec-p384 --activate -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kp, err := parseKeyPairAlgFlag("alg", alg)
			if err != nil {
				return err
			}
			privMask, pubMask := kmip.CryptographicUsageSign, kmip.CryptographicUsageVerify
			if len(usage) > 0 {
				if privMask, err = parseUsage(usage); err != nil {
					return err
				}
			}
			if len(publicUsage) > 0 {
				if pubMask, err = parseUsageFlag("public-usage", publicUsage); err != nil {
					return err
				}
			}
			if publicName == "" && name != "" {
				publicName = name + "-public"
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			common := []kmip.Attribute{
				attr(kmip.AttributeNameCryptographicAlgorithm, kp.algorithm(s.version)),
				attr(kmip.AttributeNameCryptographicLength, kp.bits),
			}
			if group != "" {
				common = append(common, attr(kmip.AttributeNameObjectGroup, group))
			}
			priv := []kmip.Attribute{attr(kmip.AttributeNameCryptographicUsageMask, privMask)}
			pub := []kmip.Attribute{attr(kmip.AttributeNameCryptographicUsageMask, pubMask)}
			if name != "" {
				priv = append(priv, nameAttr(name))
			}
			if publicName != "" {
				pub = append(pub, nameAttr(publicName))
			}
			req := &payloads.CreateKeyPairRequestPayload{
				CommonTemplateAttribute:     &kmip.TemplateAttribute{Attribute: common},
				PrivateKeyTemplateAttribute: &kmip.TemplateAttribute{Attribute: priv},
				PublicKeyTemplateAttribute:  &kmip.TemplateAttribute{Attribute: pub},
			}
			resp, err := request[*payloads.CreateKeyPairResponsePayload](ctx, s, req)
			if err != nil {
				return fmt.Errorf("create-pair: %w", err)
			}
			r := pairResult{PrivateID: resp.PrivateKeyUniqueIdentifier, PublicID: resp.PublicKeyUniqueIdentifier}
			if activate {
				for _, id := range []string{r.PrivateID, r.PublicID} {
					if _, err := request[*payloads.ActivateResponsePayload](ctx, s, &payloads.ActivateRequestPayload{UniqueIdentifier: id}); err != nil {
						return fmt.Errorf("key pair %s, %s was created but %s not activated: %w", r.PrivateID, r.PublicID, id, err)
					}
				}
				r.Activated = true
			}
			return a.emit(r)
		},
	}
	f := cmd.Flags()
	f.StringVar(&alg, "alg", "rsa-2048", "rsa-2048, rsa-3072, rsa-4096 (any multiple of 8 from 1024 to 4096),\nec-p224, ec-p256, ec-p384 or ec-p521")
	f.StringVar(&name, "name", "", "Name of the private key")
	f.StringVar(&publicName, "public-name", "", "Name of the public key (default: --name with -public appended)")
	f.StringVar(&group, "group", "", "Object Group of both keys")
	f.StringSliceVar(&usage, "usage", nil, "usage of the private key (default sign)")
	f.StringSliceVar(&publicUsage, "public-usage", nil, "usage of the public key (default verify)")
	f.BoolVar(&activate, "activate", false, "activate both keys")
	return cmd
}

func newKeyRekeyCmd(a *app) *cobra.Command {
	var offset time.Duration
	cmd := &cobra.Command{
		Use:   "rekey ID",
		Short: "Replace a symmetric key with a new one that takes over its names and attributes; print the new id",
		Long: "Replace a symmetric key with a new one (KMIP Re-key). The new key takes over the old key's names\n" +
			"and attributes and is linked to it (Replacement Object / Replaced Object links). With --offset, the\n" +
			"new key becomes active that long after the re-key, and its other life-cycle dates keep the old\n" +
			"key's spacing (KMIP 1.4 §4.4).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &payloads.RekeyRequestPayload{UniqueIdentifier: args[0]}
			if cmd.Flags().Changed("offset") {
				if offset < 0 || offset%time.Second != 0 {
					return fmt.Errorf("invalid --offset %s: want whole seconds, not negative", offset)
				}
				req.Offset = &offset
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := request[*payloads.RekeyResponsePayload](ctx, s, req)
			if err != nil {
				return fmt.Errorf("rekey %s: %w", args[0], err)
			}
			return a.emit(idResult{ID: resp.UniqueIdentifier})
		},
	}
	cmd.Flags().DurationVar(&offset, "offset", 0, "time from the re-key to the new key's Activation Date, in whole seconds")
	return cmd
}

func newKeyArchiveCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "archive ID",
		Short: "Archive an object: it stays known but is not served until recovered",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			if _, err := request[*payloads.ArchiveResponsePayload](ctx, s, &payloads.ArchiveRequestPayload{UniqueIdentifier: args[0]}); err != nil {
				return fmt.Errorf("archive %s: %w", args[0], err)
			}
			return a.emit(statusResult{ID: args[0], Status: "archived"})
		},
	}
}

func newKeyRecoverCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "recover ID",
		Short: "Recover an archived object",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			if _, err := request[*payloads.RecoverResponsePayload](ctx, s, &payloads.RecoverRequestPayload{UniqueIdentifier: args[0]}); err != nil {
				return fmt.Errorf("recover %s: %w", args[0], err)
			}
			return a.emit(statusResult{ID: args[0], Status: "recovered"})
		},
	}
}
