package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/spf13/cobra"
)

func newKeyAttrCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "attr",
		Short: "Add, modify or delete an attribute of an object",
		Long: "Add, modify or delete an attribute of an object. Values are read by the attribute's type:\n" +
			attrKindsHelp() +
			"Custom attributes (names starting with x- or y-) are text unless --type says otherwise:\n" +
			"text, integer, long, boolean, date, bytes (hex) or interval (a duration).",
	}
	cmd.AddCommand(newKeyAttrAddCmd(a), newKeyAttrModifyCmd(a), newKeyAttrDeleteCmd(a))
	return cmd
}

// attrKindsHelp lists the standard attributes by value kind.
func attrKindsHelp() string {
	byKind := map[valueKind][]string{}
	for n, k := range attrKinds {
		byKind[k] = append(byKind[k], string(n))
	}
	var b strings.Builder
	for _, k := range []valueKind{kindName, kindText, kindInteger, kindUsage, kindAlg, kindDate, kindBoolean, kindLink, kindAppInfo, kindAltName} {
		names := byKind[k]
		slices.Sort(names)
		fmt.Fprintf(&b, "  %s: %s\n", strings.Join(names, ", "), valueHelp[k])
	}
	return b.String()
}

// attrArgs reads NAME VALUE into a typed attribute.
func attrArgs(nameArg, valueArg, typ string) (kmip.Attribute, error) {
	name, err := resolveAttrName(nameArg)
	if err != nil {
		return kmip.Attribute{}, err
	}
	k, err := kindOf(name, typ)
	if err != nil {
		return kmip.Attribute{}, err
	}
	v, err := parseAttrValue(k, valueArg)
	if err != nil {
		return kmip.Attribute{}, err
	}
	return kmip.Attribute{AttributeName: name, AttributeValue: v}, nil
}

func newKeyAttrAddCmd(a *app) *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:   "add ID NAME VALUE",
		Short: "Add an attribute (a new instance of a multi-instance one, such as Name or Object Group)",
		Example: `  kmsctl key attr add $ID "Object Group" payroll
  kmsctl key attr add $ID x-owner alice
  kmsctl key attr add $ID x-generation 3 --type integer
  kmsctl key attr add $ID "Deactivation Date" 2031-01-01T00:00:00Z`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			at, err := attrArgs(args[1], args[2], typ)
			if err != nil {
				return err
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := request[*payloads.AddAttributeResponsePayload](ctx, s, &payloads.AddAttributeRequestPayload{UniqueIdentifier: args[0], Attribute: at})
			if err != nil {
				return fmt.Errorf("attr add %s: %w", args[0], err)
			}
			return a.emit(attributeRows([]kmip.Attribute{resp.Attribute}))
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "value type of a custom attribute: text, integer, long, boolean, date, bytes or interval")
	return cmd
}

func newKeyAttrModifyCmd(a *app) *cobra.Command {
	var (
		typ   string
		index int32
	)
	cmd := &cobra.Command{
		Use:   "modify ID NAME VALUE",
		Short: "Replace the value of an attribute instance (--index, default 0)",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			at, err := attrArgs(args[1], args[2], typ)
			if err != nil {
				return err
			}
			if index < 0 {
				return fmt.Errorf("invalid --index %d: must not be negative", index)
			}
			if cmd.Flags().Changed("index") {
				at.AttributeIndex = &index
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := request[*payloads.ModifyAttributeResponsePayload](ctx, s, &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: args[0], Attribute: at})
			if err != nil {
				return fmt.Errorf("attr modify %s: %w", args[0], err)
			}
			return a.emit(attributeRows([]kmip.Attribute{resp.Attribute}))
		},
	}
	cmd.Flags().StringVar(&typ, "type", "", "value type of a custom attribute: text, integer, long, boolean, date, bytes or interval")
	cmd.Flags().Int32Var(&index, "index", 0, "which instance of the attribute (see `kmsctl key attributes`)")
	return cmd
}

func newKeyAttrDeleteCmd(a *app) *cobra.Command {
	var index int32
	cmd := &cobra.Command{
		Use:   "delete ID NAME",
		Short: "Delete an attribute instance (--index, default 0) and print what was deleted",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, err := resolveAttrName(args[1])
			if err != nil {
				return err
			}
			if index < 0 {
				return fmt.Errorf("invalid --index %d: must not be negative", index)
			}
			req := &payloads.DeleteAttributeRequestPayload{UniqueIdentifier: args[0], AttributeName: name}
			if cmd.Flags().Changed("index") {
				req.AttributeIndex = &index
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			resp, err := request[*payloads.DeleteAttributeResponsePayload](ctx, s, req)
			if err != nil {
				return fmt.Errorf("attr delete %s: %w", args[0], err)
			}
			return a.emit(attributeRows([]kmip.Attribute{resp.Attribute}))
		},
	}
	cmd.Flags().Int32Var(&index, "index", 0, "which instance of the attribute (see `kmsctl key attributes`)")
	return cmd
}
