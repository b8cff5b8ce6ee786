package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
	"github.com/spf13/cobra"
)

// queryWhat maps the words of `query --what` to Query Functions and the
// version that defines each (KMIP 1.4 §9.1.3.2.24).
var queryWhat = []struct {
	word  string
	fn    kmip.QueryFunction
	since kmip.ProtocolVersion
}{
	{"operations", kmip.QueryFunctionOperations, kmip.V1_0},
	{"objects", kmip.QueryFunctionObjects, kmip.V1_0},
	{"server", kmip.QueryFunctionServerInformation, kmip.V1_0},
	{"capabilities", kmip.QueryFunctionCapabilities, kmip.V1_3},
	{"profiles", kmip.QueryFunctionProfiles, kmip.V1_3},
	{"rngs", kmip.QueryFunctionRNGs, kmip.V1_3},
}

// queryResult is what `query` prints. Lists are empty, not absent, for
// what was asked; Unasked lists what the protocol version cannot ask.
type queryResult struct {
	Version      string            `json:"protocol_version"`
	Vendor       string            `json:"vendor,omitempty"`
	Operations   []string          `json:"operations,omitempty"`
	ObjectTypes  []string          `json:"object_types,omitempty"`
	Capabilities []capabilityJSON  `json:"capabilities,omitempty"`
	Profiles     []string          `json:"profiles,omitempty"`
	RNGs         []any             `json:"rngs,omitempty"`
	Unsupported  map[string]string `json:"not_asked,omitempty"`
}

type capabilityJSON struct {
	Streaming     *bool  `json:"streaming,omitempty"`
	Asynchronous  *bool  `json:"asynchronous,omitempty"`
	Attestation   *bool  `json:"attestation,omitempty"`
	BatchUndo     *bool  `json:"batch_undo,omitempty"`
	BatchContinue *bool  `json:"batch_continue,omitempty"`
	UnwrapMode    string `json:"unwrap_mode,omitempty"`
	DestroyAction string `json:"destroy_action,omitempty"`
	Shredding     string `json:"shredding_algorithm,omitempty"`
	RNGMode       string `json:"rng_mode,omitempty"`
}

func (c capabilityJSON) text() string {
	var parts []string
	flag := func(name string, b *bool) {
		if b != nil {
			parts = append(parts, name+" "+yesNo(*b))
		}
	}
	word := func(name, v string) {
		if v != "" {
			parts = append(parts, name+" "+v)
		}
	}
	flag("streaming", c.Streaming)
	flag("asynchronous", c.Asynchronous)
	flag("attestation", c.Attestation)
	flag("batch undo", c.BatchUndo)
	flag("batch continue", c.BatchContinue)
	word("unwrap mode", c.UnwrapMode)
	word("destroy action", c.DestroyAction)
	word("shredding", c.Shredding)
	word("rng mode", c.RNGMode)
	return strings.Join(parts, ", ")
}

func (r queryResult) writeText(w io.Writer) error {
	pairs := [][2]string{{"protocol version", r.Version}}
	if r.Vendor != "" {
		pairs = append(pairs, [2]string{"vendor", r.Vendor})
	}
	if r.Operations != nil {
		pairs = append(pairs, [2]string{"operations", strings.Join(r.Operations, ", ")})
	}
	if r.ObjectTypes != nil {
		pairs = append(pairs, [2]string{"object types", strings.Join(r.ObjectTypes, ", ")})
	}
	for _, c := range r.Capabilities {
		pairs = append(pairs, [2]string{"capabilities", c.text()})
	}
	if r.Profiles != nil {
		pairs = append(pairs, [2]string{"profiles", strings.Join(r.Profiles, ", ")})
	}
	for _, g := range r.RNGs {
		pairs = append(pairs, [2]string{"rng", valueText(g)})
	}
	for _, q := range queryWhat {
		if why, ok := r.Unsupported[q.word]; ok {
			pairs = append(pairs, [2]string{q.word, why})
		}
	}
	return writeKV(w, pairs...)
}

func newQueryCmd(a *app) *cobra.Command {
	var what []string
	cmd := &cobra.Command{
		Use:   "query",
		Short: "Ask the KMIP server what it supports (KMIP Query)",
		Example: `  kmsctl query
  kmsctl query --what operations,capabilities,profiles`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var words []string
			for _, item := range what {
				for _, w := range strings.Split(item, ",") {
					if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
						words = append(words, w)
					}
				}
			}
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			r := queryResult{Version: s.version.String()}
			req := &payloads.QueryRequestPayload{}
			for _, w := range words {
				i := indexWhat(w)
				if i < 0 {
					return fmt.Errorf("invalid --what %q: want a comma-separated list of operations, objects, server, capabilities, profiles, rngs", w)
				}
				q := queryWhat[i]
				if ttlv.CompareVersions(s.version, q.since) < 0 {
					if r.Unsupported == nil {
						r.Unsupported = map[string]string{}
					}
					r.Unsupported[q.word] = fmt.Sprintf("not asked: KMIP %s defines it, the connection uses %s", q.since, s.version)
					continue
				}
				req.QueryFunction = append(req.QueryFunction, q.fn)
			}
			if len(req.QueryFunction) == 0 {
				return a.emit(r)
			}
			resp, err := request[*payloads.QueryResponsePayload](ctx, s, req)
			if err != nil {
				return fmt.Errorf("query: %w", err)
			}
			fillQuery(&r, req.QueryFunction, resp)
			return a.emit(r)
		},
	}
	cmd.Flags().StringSliceVar(&what, "what", []string{"operations", "objects", "server"},
		"what to ask: operations, objects, server, and from KMIP 1.3 capabilities, profiles, rngs")
	return cmd
}

func indexWhat(w string) int {
	for i, q := range queryWhat {
		if q.word == w || normalize(enumText(q.fn)) == normalize(w) {
			return i
		}
	}
	return -1
}

func fillQuery(r *queryResult, asked []kmip.QueryFunction, resp *payloads.QueryResponsePayload) {
	for _, f := range asked {
		switch f {
		case kmip.QueryFunctionOperations:
			r.Operations = []string{}
			for _, op := range resp.Operations {
				r.Operations = append(r.Operations, kebab(enumText(op)))
			}
		case kmip.QueryFunctionObjects:
			r.ObjectTypes = []string{}
			for _, ot := range resp.ObjectType {
				r.ObjectTypes = append(r.ObjectTypes, kebab(enumText(ot)))
			}
		case kmip.QueryFunctionServerInformation:
			r.Vendor = resp.VendorIdentification
		case kmip.QueryFunctionProfiles:
			r.Profiles = []string{}
			for _, p := range resp.ProfileInformation {
				r.Profiles = append(r.Profiles, enumText(p.ProfileName))
			}
		case kmip.QueryFunctionRNGs:
			for _, g := range resp.RNGParameters {
				r.RNGs = append(r.RNGs, attrValue(g))
			}
		case kmip.QueryFunctionCapabilities:
			for _, c := range resp.CapabilityInformation {
				r.Capabilities = append(r.Capabilities, capabilityJSON{
					Streaming: c.StreamingCapability, Asynchronous: c.AsynchronousCapability, Attestation: c.AttestationCapability,
					BatchUndo: c.BatchUndoCapability, BatchContinue: c.BatchContinueCapability,
					UnwrapMode: enumWord(c.UnwrapMode), DestroyAction: enumWord(c.DestroyAction),
					Shredding: enumWord(c.ShreddingAlgorithm), RNGMode: enumWord(c.RNGMode),
				})
			}
		}
	}
}

// enumWord is an enumeration value in flag spelling; "" for zero.
func enumWord[T ~uint32](v T) string {
	if v == 0 {
		return ""
	}
	return kebab(enumText(v))
}

// discoverResult lists the versions the server offers, preferred first.
type discoverResult struct {
	Versions []string `json:"versions"`
}

func (r discoverResult) writeText(w io.Writer) error {
	for _, v := range r.Versions {
		if _, err := fmt.Fprintln(w, v); err != nil {
			return err
		}
	}
	return nil
}

func newDiscoverCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "discover",
		Short: "List the KMIP protocol versions the server supports, preferred first (KMIP Discover Versions)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, s, done, err := a.connect(cmd)
			if err != nil {
				return err
			}
			defer done()
			if s.version == kmip.V1_0 {
				return fmt.Errorf("discover: Discover Versions is a KMIP 1.1 operation; the connection uses 1.0")
			}
			// An empty list asks for every version the server supports
			// (KMIP 1.4 §4.26).
			resp, err := request[*payloads.DiscoverVersionsResponsePayload](ctx, s, &payloads.DiscoverVersionsRequestPayload{})
			if err != nil {
				return fmt.Errorf("discover: %w", err)
			}
			r := discoverResult{Versions: []string{}}
			for _, v := range resp.ProtocolVersion {
				r.Versions = append(r.Versions, v.String())
			}
			return a.emit(r)
		},
	}
}
