package main

import (
	"context"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
)

// benchOp is one kind of operation that --mix can name.
//
// To add one (Encrypt, say), add a row to benchOps: its name, what must
// exist before the measured phase (needs), and run, which performs one
// operation on the worker's connection and returns nil, a *kmipError from
// the server, or a transport error.
type benchOp struct {
	name  string
	needs needs
	run   func(w *worker, ctx context.Context) error
}

// needs says what an operation expects to exist on the server.
type needs uint8

const (
	// needKeys: symmetric keys to read (worker.key), made before the
	// measured phase or preloaded.
	needKeys needs = 1 << iota
	// needNames: names <prefix>0 … <prefix>N-1 (worker.name), from
	// --preload or an earlier run's preload (--locate-names).
	needNames
)

var benchOps = []*benchOp{
	{name: "create", run: (*worker).create},
	{name: "register", run: (*worker).register},
	{name: "get", needs: needKeys, run: (*worker).get},
	{name: "get-attributes", needs: needKeys, run: (*worker).getAttributes},
	{name: "locate", needs: needNames, run: (*worker).locate},
	{name: "create-key-pair", run: (*worker).createKeyPair},
	{name: "lifecycle", run: (*worker).lifecycle},
}

func benchOpNames() []string {
	names := make([]string, len(benchOps))
	for i, op := range benchOps {
		names[i] = op.name
	}
	return names
}

// mixEntry is one operation of the mix with its relative weight.
type mixEntry struct {
	op     *benchOp
	weight int
}

// benchMix is the parsed --mix, in the order given.
type benchMix []mixEntry

// parseMix reads "create", "create=2,get=5,locate=1" or "none" (no
// measured phase).
func parseMix(s string) (benchMix, error) {
	s = strings.TrimSpace(s)
	if s == "none" {
		return nil, nil
	}
	if s == "" {
		return nil, errors.New("--mix is empty: give operations such as create=1,get=4, or none")
	}
	var mix benchMix
	for _, part := range strings.Split(s, ",") {
		name, w, hasWeight := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(benchOps, func(op *benchOp) bool { return op.name == name })
		if i < 0 {
			return nil, fmt.Errorf("invalid --mix: unknown operation %q: want %s (or none)", name, strings.Join(benchOpNames(), ", "))
		}
		weight := 1
		if hasWeight {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 1 || n > 1_000_000 {
				return nil, fmt.Errorf("invalid --mix weight %q for %s: want a whole number from 1 to 1000000", w, name)
			}
			weight = n
		}
		if slices.ContainsFunc(mix, func(e mixEntry) bool { return e.op == benchOps[i] }) {
			return nil, fmt.Errorf("invalid --mix: %s appears twice; give each operation once with its weight", name)
		}
		mix = append(mix, mixEntry{op: benchOps[i], weight: weight})
	}
	return mix, nil
}

// String is the canonical spelling, every weight written out.
func (m benchMix) String() string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, len(m))
	for i, e := range m {
		parts[i] = e.op.name + "=" + strconv.Itoa(e.weight)
	}
	return strings.Join(parts, ",")
}

func (m benchMix) needs() needs {
	var n needs
	for _, e := range m {
		n |= e.op.needs
	}
	return n
}

// pick chooses an entry's index with probability weight/total.
func (m benchMix) pick(rng *rand.Rand) int {
	total := 0
	for _, e := range m {
		total += e.weight
	}
	r := rng.IntN(total)
	for i, e := range m {
		if r < e.weight {
			return i
		}
		r -= e.weight
	}
	return len(m) - 1
}

// keyPairAlg is what create-key-pair asks for (--key-pair-alg).
type keyPairAlg struct {
	name string
	ec   bool
	bits int32
}

// parseKeyPairAlg reads rsa-<bits> (1024 to 4096) or ec-p224, ec-p256,
// ec-p384, ec-p521.
func parseKeyPairAlg(s string) (keyPairAlg, error) { return parseKeyPairAlgFlag("key-pair-alg", s) }

// parseKeyPairAlgFlag is parseKeyPairAlg for the flag named flag.
func parseKeyPairAlgFlag(flag, s string) (keyPairAlg, error) {
	n := strings.ToLower(strings.TrimSpace(s))
	bad := fmt.Errorf("invalid --%s %q: want rsa-2048, rsa-3072, rsa-4096 (any multiple of 8 from 1024 to 4096), ec-p224, ec-p256, ec-p384 or ec-p521", flag, s)
	if rest, ok := strings.CutPrefix(n, "rsa-"); ok {
		bits, err := strconv.Atoi(rest)
		if err != nil || bits < 1024 || bits > 4096 || bits%8 != 0 {
			return keyPairAlg{}, bad
		}
		return keyPairAlg{name: n, bits: int32(bits)}, nil
	}
	for _, c := range []string{"224", "256", "384", "521"} {
		if n == "ec-p"+c || n == "ec-p-"+c {
			bits, _ := strconv.Atoi(c)
			return keyPairAlg{name: "ec-p" + c, ec: true, bits: int32(bits)}, nil
		}
	}
	return keyPairAlg{}, bad
}

// errNoMatch is a Locate of an existing name that found nothing.
var errNoMatch = errors.New("locate found no object with the name")

var benchKeyAttrs = []kmip.Attribute{
	attr(kmip.AttributeNameCryptographicAlgorithm, kmip.CryptographicAlgorithmAES),
	attr(kmip.AttributeNameCryptographicLength, int32(256)),
	attr(kmip.AttributeNameCryptographicUsageMask, cipherUsage),
}

// createAES is the Create request of an AES-256 key, named unless name is
// empty.
func createAES(name string) *payloads.CreateRequestPayload {
	attrs := benchKeyAttrs
	if name != "" {
		attrs = append(slices.Clip(attrs), nameAttr(name))
	}
	return &payloads.CreateRequestPayload{
		ObjectType:        kmip.ObjectTypeSymmetricKey,
		TemplateAttribute: kmip.TemplateAttribute{Attribute: attrs},
	}
}

func (w *worker) create(ctx context.Context) error {
	_, err := request[*payloads.CreateResponsePayload](ctx, w.s, createAES(""))
	return err
}

func (w *worker) register(ctx context.Context) error {
	material := make([]byte, 32)
	_, _ = cryptorand.Read(material)
	req := &payloads.RegisterRequestPayload{
		ObjectType: kmip.ObjectTypeSecretData,
		Object:     &kmip.SecretData{SecretDataType: kmip.SecretDataTypeSeed, KeyBlock: rawKeyBlock(material)},
	}
	_, err := request[*payloads.RegisterResponsePayload](ctx, w.s, req)
	return err
}

func (w *worker) get(ctx context.Context) error {
	_, err := request[*payloads.GetResponsePayload](ctx, w.s, &payloads.GetRequestPayload{UniqueIdentifier: w.key()})
	return err
}

func (w *worker) getAttributes(ctx context.Context) error {
	req := &payloads.GetAttributesRequestPayload{UniqueIdentifier: w.key()}
	_, err := request[*payloads.GetAttributesResponsePayload](ctx, w.s, req)
	return err
}

func (w *worker) locate(ctx context.Context) error {
	req := &payloads.LocateRequestPayload{Attribute: []kmip.Attribute{nameAttr(w.name())}}
	resp, err := request[*payloads.LocateResponsePayload](ctx, w.s, req)
	if err == nil && len(resp.UniqueIdentifier) == 0 {
		err = errNoMatch
	}
	return err
}

// algorithm is the Cryptographic Algorithm of the pair in version v.
func (k keyPairAlg) algorithm(v kmip.ProtocolVersion) kmip.CryptographicAlgorithm {
	if !k.ec {
		return kmip.CryptographicAlgorithmRSA
	}
	// EC is a KMIP 1.3 algorithm; earlier versions call EC keys ECDSA.
	if v.ProtocolVersionMajor == 1 && v.ProtocolVersionMinor < 3 {
		return kmip.CryptographicAlgorithmECDSA
	}
	return kmip.CryptographicAlgorithmEC
}

func (w *worker) createKeyPair(ctx context.Context) error {
	req := &payloads.CreateKeyPairRequestPayload{
		CommonTemplateAttribute: &kmip.TemplateAttribute{Attribute: []kmip.Attribute{
			attr(kmip.AttributeNameCryptographicAlgorithm, w.run.cfg.keyPair.algorithm(w.s.version)),
			attr(kmip.AttributeNameCryptographicLength, w.run.cfg.keyPair.bits),
		}},
		PrivateKeyTemplateAttribute: &kmip.TemplateAttribute{Attribute: []kmip.Attribute{
			attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageSign),
		}},
		PublicKeyTemplateAttribute: &kmip.TemplateAttribute{Attribute: []kmip.Attribute{
			attr(kmip.AttributeNameCryptographicUsageMask, kmip.CryptographicUsageVerify),
		}},
	}
	_, err := request[*payloads.CreateKeyPairResponsePayload](ctx, w.s, req)
	return err
}

// lifecycle is a key's whole life as five requests: Create, Activate,
// Get, Revoke, Destroy. KMIP's life cycle (the State attribute) has no
// transition from Active to Destroyed, so the key is revoked first.
func (w *worker) lifecycle(ctx context.Context) error {
	created, err := request[*payloads.CreateResponsePayload](ctx, w.s, createAES(""))
	if err != nil {
		return err
	}
	id := created.UniqueIdentifier
	if _, err := request[*payloads.ActivateResponsePayload](ctx, w.s, &payloads.ActivateRequestPayload{UniqueIdentifier: id}); err != nil {
		return err
	}
	if _, err := request[*payloads.GetResponsePayload](ctx, w.s, &payloads.GetRequestPayload{UniqueIdentifier: id}); err != nil {
		return err
	}
	revoke := &payloads.RevokeRequestPayload{
		UniqueIdentifier: id,
		RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeCessationOfOperation},
	}
	if _, err := request[*payloads.RevokeResponsePayload](ctx, w.s, revoke); err != nil {
		return err
	}
	_, err = request[*payloads.DestroyResponsePayload](ctx, w.s, &payloads.DestroyRequestPayload{UniqueIdentifier: id})
	return err
}
