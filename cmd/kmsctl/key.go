package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"reflect"
	"strconv"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/spf13/cobra"
)

func newKeyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "Manage keys and other objects over KMIP",
	}
	cmd.AddCommand(
		newKeyCreateCmd(a),
		newKeyRegisterCmd(a),
		newKeyGetCmd(a),
		newKeyLocateCmd(a),
		newKeyActivateCmd(a),
		newKeyRevokeCmd(a),
		newKeyDestroyCmd(a),
		newKeyAttributesCmd(a),
		newKeyCreatePairCmd(a),
		newKeyRekeyCmd(a),
		newKeyArchiveCmd(a),
		newKeyRecoverCmd(a),
		newKeyAttrCmd(a),
	)
	return cmd
}

// idResult is printed by commands that create an object: the bare id, so
// that `ID=$(kmsctl key create)` works.
type idResult struct {
	ID        string `json:"id"`
	Activated bool   `json:"activated,omitempty"`
}

func (r idResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintln(w, r.ID)
	return err
}

func newKeyCreateCmd(a *app) *cobra.Command {
	var (
		alg, name, group string
		length           int
		usage            []string
		activate         bool
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a symmetric key on the server and print its id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sa, err := parseSymAlg(alg)
			if err != nil {
				return err
			}
			if length == 0 {
				length = sa.length
			}
			if length < 0 || length > 1<<20 {
				return fmt.Errorf("invalid --length %d", length)
			}
			mask := sa.usage
			if len(usage) > 0 {
				if mask, err = parseUsage(usage); err != nil {
					return err
				}
			}
			attrs := []kmip.Attribute{
				attr(kmip.AttributeNameCryptographicAlgorithm, sa.alg),
				attr(kmip.AttributeNameCryptographicLength, int32(length)),
				attr(kmip.AttributeNameCryptographicUsageMask, mask),
			}
			if name != "" {
				attrs = append(attrs, nameAttr(name))
			}
			if group != "" {
				attrs = append(attrs, attr(kmip.AttributeNameObjectGroup, group))
			}
			req := &payloads.CreateRequestPayload{
				ObjectType:        kmip.ObjectTypeSymmetricKey,
				TemplateAttribute: kmip.TemplateAttribute{Attribute: attrs},
			}

			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			if !activate {
				resp, err := request[*payloads.CreateResponsePayload](ctx, s, req)
				if err != nil {
					return fmt.Errorf("create: %w", err)
				}
				return a.emit(idResult{ID: resp.UniqueIdentifier})
			}
			// An Activate without a Unique Identifier uses the ID
			// Placeholder, which the Create before it in the same
			// batch sets (KMIP 1.4, "ID Placeholder").
			res, err := s.batch(ctx, req, &payloads.ActivateRequestPayload{})
			if err != nil {
				return fmt.Errorf("create: %w", err)
			}
			if res[0].err != nil {
				return fmt.Errorf("create: %w", res[0].err)
			}
			created, err := asPayload[*payloads.CreateResponsePayload](res[0].payload, kmip.OperationCreate)
			if err != nil {
				return err
			}
			id := created.UniqueIdentifier
			if res[1].err != nil {
				// A server that does not carry the placeholder across
				// the batch gets a second chance with the id spelled out.
				_, err := request[*payloads.ActivateResponsePayload](ctx, s, &payloads.ActivateRequestPayload{UniqueIdentifier: id})
				if err != nil {
					return fmt.Errorf("key %s was created but not activated: %w", id, err)
				}
			}
			return a.emit(idResult{ID: id, Activated: true})
		},
	}
	f := cmd.Flags()
	f.StringVar(&alg, "alg", "AES", "algorithm: AES, TDES, HMAC-SHA1, HMAC-SHA256, HMAC-SHA384, HMAC-SHA512")
	f.IntVar(&length, "length", 0, "key length in bits (default 256 for AES, 168 for TDES, the digest size for HMAC)")
	f.StringVar(&name, "name", "", "Name attribute")
	f.StringVar(&group, "group", "", "Object Group attribute")
	f.StringSliceVar(&usage, "usage", nil, "cryptographic usage, e.g. encrypt,decrypt,wrap-key (default encrypt,decrypt; mac-generate,mac-verify for HMAC)")
	f.BoolVar(&activate, "activate", false, "activate the key in the same request")
	return cmd
}

// getResult describes a fetched object.
type getResult struct {
	ID          string `json:"id"`
	ObjectType  string `json:"object_type"`
	Algorithm   string `json:"algorithm,omitempty"`
	Length      int32  `json:"length,omitempty"`
	Format      string `json:"format,omitempty"`
	Wrapped     bool   `json:"wrapped,omitempty"`
	MaterialHex string `json:"material_hex,omitempty"`
}

func (r getResult) writeText(w io.Writer) error {
	pairs := [][2]string{{"id", r.ID}, {"object type", r.ObjectType}}
	if r.Algorithm != "" {
		pairs = append(pairs, [2]string{"algorithm", r.Algorithm})
	}
	if r.Length != 0 {
		pairs = append(pairs, [2]string{"length", strconv.Itoa(int(r.Length))})
	}
	if r.Format != "" {
		pairs = append(pairs, [2]string{"format", r.Format})
	}
	if r.Wrapped {
		pairs = append(pairs, [2]string{"wrapped", "true"})
	}
	if r.MaterialHex != "" {
		pairs = append(pairs, [2]string{"material", r.MaterialHex})
	}
	return writeKV(w, pairs...)
}

func newKeyGetCmd(a *app) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Fetch an object and print its key material as hex",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &payloads.GetRequestPayload{UniqueIdentifier: args[0]}
			switch normalize(format) {
			case "":
			case "raw":
				req.KeyFormatType = kmip.KeyFormatTypeRaw
			case "transparent":
				req.KeyFormatType = kmip.KeyFormatTypeTransparentSymmetricKey
			default:
				return fmt.Errorf("invalid --format %q: want raw or transparent", format)
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := request[*payloads.GetResponsePayload](ctx, s, req)
			if err != nil {
				return fmt.Errorf("get %s: %w", args[0], err)
			}
			return a.emit(describeObject(resp))
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "key format to ask for: raw or transparent (default: the server's choice)")
	return cmd
}

func describeObject(resp *payloads.GetResponsePayload) getResult {
	r := getResult{ID: resp.UniqueIdentifier, ObjectType: kebab(enumText(resp.ObjectType))}
	switch o := resp.Object.(type) {
	case *kmip.OpaqueObject:
		r.MaterialHex = hex.EncodeToString(o.OpaqueDataValue)
		return r
	case *kmip.Certificate:
		r.MaterialHex = hex.EncodeToString(o.CertificateValue)
		return r
	}
	// Keys and secrets all carry a Key Block.
	v := reflect.ValueOf(resp.Object)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return r
	}
	fv := v.Elem().FieldByName("KeyBlock")
	if !fv.IsValid() {
		return r
	}
	kb, ok := fv.Interface().(kmip.KeyBlock)
	if !ok {
		return r
	}
	if kb.CryptographicAlgorithm != 0 {
		r.Algorithm = enumText(kb.CryptographicAlgorithm)
	}
	r.Length = kb.CryptographicLength
	r.Format = kebab(enumText(kb.KeyFormatType))
	switch {
	case kb.KeyValue == nil:
	case kb.KeyValue.Wrapped != nil:
		r.Wrapped = true
		r.MaterialHex = hex.EncodeToString(*kb.KeyValue.Wrapped)
	case kb.KeyValue.Plain != nil:
		m := kb.KeyValue.Plain.KeyMaterial
		if m.Bytes != nil {
			r.MaterialHex = hex.EncodeToString(*m.Bytes)
		} else if m.TransparentSymmetricKey != nil {
			r.MaterialHex = hex.EncodeToString(m.TransparentSymmetricKey.Key)
		}
	}
	return r
}
