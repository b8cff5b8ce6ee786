package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
	"github.com/spf13/cobra"
)

type locateResult struct {
	IDs []string `json:"ids"`
	// Located is the server's total match count (KMIP 1.3+), which can
	// exceed len(IDs) when --max limits the answer.
	Located *int32 `json:"located_items,omitempty"`
}

func (r locateResult) writeText(w io.Writer) error {
	for _, id := range r.IDs {
		if _, err := fmt.Fprintln(w, id); err != nil {
			return err
		}
	}
	return nil
}

func newKeyLocateCmd(a *app) *cobra.Command {
	var (
		name, typ, state, alg, group string
		length, maxItems, offset     int32
	)
	cmd := &cobra.Command{
		Use:   "locate",
		Short: "Find objects by attributes and print their ids, one per line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := &payloads.LocateRequestPayload{MaximumItems: maxItems, OffsetItems: offset}
			if maxItems < 0 || offset < 0 {
				return fmt.Errorf("--max and --offset must not be negative")
			}
			if name != "" {
				req.Attribute = append(req.Attribute, nameAttr(name))
			}
			if typ != "" {
				ot, err := parseEnum("type", typ, objectTypeAliases)
				if err != nil {
					return err
				}
				req.Attribute = append(req.Attribute, attr(kmip.AttributeNameObjectType, ot))
			}
			if state != "" {
				st, err := parseEnum[kmip.State]("state", state, nil)
				if err != nil {
					return err
				}
				req.Attribute = append(req.Attribute, attr(kmip.AttributeNameState, st))
			}
			if alg != "" {
				ca, err := parseEnum("alg", alg, algAliases)
				if err != nil {
					return err
				}
				req.Attribute = append(req.Attribute, attr(kmip.AttributeNameCryptographicAlgorithm, ca))
			}
			if length != 0 {
				req.Attribute = append(req.Attribute, attr(kmip.AttributeNameCryptographicLength, length))
			}
			if group != "" {
				req.Attribute = append(req.Attribute, attr(kmip.AttributeNameObjectGroup, group))
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			if offset != 0 && ttlv.CompareVersions(s.version, kmip.V1_3) < 0 {
				return fmt.Errorf("--offset needs KMIP 1.3 or later; the connection uses %s", s.version)
			}
			resp, err := request[*payloads.LocateResponsePayload](ctx, s, req)
			if err != nil {
				return fmt.Errorf("locate: %w", err)
			}
			ids := resp.UniqueIdentifier
			if ids == nil {
				ids = []string{}
			}
			return a.emit(locateResult{IDs: ids, Located: resp.LocatedItems})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "Name attribute")
	f.StringVar(&typ, "type", "", "object type: symmetric-key, secret-data, opaque-object, private-key, public-key, certificate, …")
	f.StringVar(&state, "state", "", "state: pre-active, active, deactivated, compromised, destroyed, destroyed-compromised")
	f.StringVar(&alg, "alg", "", "Cryptographic Algorithm, e.g. AES, TDES, HMAC-SHA256")
	f.Int32Var(&length, "length", 0, "Cryptographic Length in bits")
	f.StringVar(&group, "group", "", "Object Group attribute")
	f.Int32Var(&maxItems, "max", 0, "return at most this many ids (default: the server's limit)")
	f.Int32Var(&offset, "offset", 0, "skip this many matches (KMIP 1.3+)")
	return cmd
}

// statusResult reports a state change of one object.
type statusResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (r statusResult) writeText(w io.Writer) error {
	_, err := fmt.Fprintf(w, "%s %s\n", r.Status, r.ID)
	return err
}

func newKeyActivateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "activate ID",
		Short: "Activate a pre-active object",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			req := &payloads.ActivateRequestPayload{UniqueIdentifier: args[0]}
			if _, err := request[*payloads.ActivateResponsePayload](ctx, s, req); err != nil {
				return fmt.Errorf("activate %s: %w", args[0], err)
			}
			return a.emit(statusResult{ID: args[0], Status: "activated"})
		},
	}
}

func newKeyRevokeCmd(a *app) *cobra.Command {
	var reason, message, compromiseDate string
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an object",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code, err := parseEnum[kmip.RevocationReasonCode]("reason", reason, nil)
			if err != nil {
				return err
			}
			req := &payloads.RevokeRequestPayload{
				UniqueIdentifier: args[0],
				RevocationReason: kmip.RevocationReason{RevocationReasonCode: code, RevocationMessage: message},
			}
			// KMIP 1.4 Revoke: the Compromise Occurrence Date "SHALL be
			// specified" when the reason is key or CA compromise; other
			// reasons have no use for it.
			compromise := code == kmip.RevocationReasonCodeKeyCompromise || code == kmip.RevocationReasonCodeCACompromise
			switch {
			case compromiseDate != "" && !compromise:
				return fmt.Errorf("--compromise-date only applies to --reason key-compromise or ca-compromise")
			case compromiseDate != "":
				t, err := time.Parse(time.RFC3339, compromiseDate)
				if err != nil {
					return fmt.Errorf("invalid --compromise-date %q: want RFC 3339, e.g. 2024-05-01T12:00:00Z", compromiseDate)
				}
				req.CompromiseOccurrenceDate = &t
			case compromise:
				now := time.Now().Truncate(time.Second)
				req.CompromiseOccurrenceDate = &now
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			if _, err := request[*payloads.RevokeResponsePayload](ctx, s, req); err != nil {
				return fmt.Errorf("revoke %s: %w", args[0], err)
			}
			return a.emit(statusResult{ID: args[0], Status: "revoked"})
		},
	}
	f := cmd.Flags()
	f.StringVar(&reason, "reason", "unspecified", "revocation reason: unspecified, key-compromise, ca-compromise, affiliation-changed,\nsuperseded, cessation-of-operation, privilege-withdrawn")
	f.StringVar(&message, "message", "", "revocation message")
	f.StringVar(&compromiseDate, "compromise-date", "", "when the compromise happened, RFC 3339 (compromise reasons only; default now)")
	return cmd
}

func newKeyDestroyCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "destroy ID",
		Short: "Destroy an object's key material",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			req := &payloads.DestroyRequestPayload{UniqueIdentifier: args[0]}
			if _, err := request[*payloads.DestroyResponsePayload](ctx, s, req); err != nil {
				return fmt.Errorf("destroy %s: %w", args[0], err)
			}
			return a.emit(statusResult{ID: args[0], Status: "destroyed"})
		},
	}
}

// attrRow is one attribute instance; Value comes from attrValue.
type attrRow struct {
	Name  string `json:"name"`
	Index int32  `json:"index"`
	Value any    `json:"value"`
}

type attrsResult []attrRow

func (r attrsResult) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]attrRow(r))
}

func (r attrsResult) writeText(w io.Writer) error {
	rows := make([][]string, len(r))
	for i, a := range r {
		rows[i] = []string{a.Name, strconv.Itoa(int(a.Index)), valueText(a.Value)}
	}
	return writeTable(w, []string{"NAME", "INDEX", "VALUE"}, rows)
}

func attributeRows(attrs []kmip.Attribute) attrsResult {
	out := make(attrsResult, 0, len(attrs))
	for _, at := range attrs {
		// KMIP 1.x: an absent Attribute Index means index 0.
		var idx int32
		if at.AttributeIndex != nil {
			idx = *at.AttributeIndex
		}
		out = append(out, attrRow{Name: string(at.AttributeName), Index: idx, Value: attrValue(at.AttributeValue)})
	}
	return out
}

func newKeyAttributesCmd(a *app) *cobra.Command {
	var names []string
	cmd := &cobra.Command{
		Use:   "attributes ID",
		Short: "Show an object's attributes (all, or those named with --name)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := &payloads.GetAttributesRequestPayload{UniqueIdentifier: args[0]}
			for _, n := range names {
				req.AttributeName = append(req.AttributeName, kmip.AttributeName(n))
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := request[*payloads.GetAttributesResponsePayload](ctx, s, req)
			if err != nil {
				return fmt.Errorf("attributes %s: %w", args[0], err)
			}
			return a.emit(attributeRows(resp.Attribute))
		},
	}
	cmd.Flags().StringArrayVar(&names, "name", nil, `attribute to fetch, e.g. --name State --name "Cryptographic Length" (repeatable)`)
	return cmd
}
