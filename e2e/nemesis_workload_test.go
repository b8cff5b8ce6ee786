package e2e_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"net"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/e2e/harness"
)

// opTimeout bounds one request of the workload; an operation that gets no
// answer by then has an unknown outcome.
const opTimeout = 8 * time.Second

// lineageRef is what the clients know of a lineage.
type lineageRef struct {
	name   string
	secret bool     // registered Secret Data: no Re-key
	ids    []string // ids answered for it, oldest first
	rekeys int      // Re-keys sent
	ops    int
}

// workload is the clients' shared knowledge and the recorded history.
type workload struct {
	tls      *tls.Config
	targets  func(rng *mrand.Rand) string // a KMIP address to dial
	start    time.Time
	prefix   string
	maxLive  int // lineages operated on at once
	lifetime int // operations on a lineage before it is retired

	mu       sync.Mutex
	live     []*lineageRef
	all      []*lineageRef
	next     int
	history  []porcupine.Operation
	outcomes map[string]map[string]int // kind -> ok, refused, unknown -> count
	answered map[string]int            // id -> times a create, register or re-key returned it
}

func newWorkload(cfg *tls.Config, targets func(*mrand.Rand) string, prefix string) *workload {
	return &workload{
		tls: cfg, targets: targets, start: time.Now(), prefix: prefix,
		maxLive: 16, lifetime: 40,
		outcomes: map[string]map[string]int{}, answered: map[string]int{},
	}
}

func (w *workload) stamp() int64 { return int64(time.Since(w.start)) }

// record appends one operation to the history. An unknown outcome returns
// at the end of time: it may take effect at any point after its call.
func (w *workload) record(client int, in nemOp, out nemResult, call, ret int64) {
	if out.unknown {
		ret = math.MaxInt64
	}
	outcome := "ok"
	switch {
	case out.unknown:
		outcome = "unknown"
	case !out.ok:
		outcome = "refused"
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.history = append(w.history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	if w.outcomes[in.kind] == nil {
		w.outcomes[in.kind] = map[string]int{}
	}
	w.outcomes[in.kind][outcome]++
	if out.ok && out.id != "" {
		w.answered[out.id]++
	}
}

// nemClient is one client: its own connection, to one node or through the
// load balancer, opened again after each unknown outcome.
type nemClient struct {
	id     int
	w      *workload
	target func(*mrand.Rand) string // the address to dial
	rng    *mrand.Rand
	conn   net.Conn
}

// run issues operations until ctx ends.
func (c *nemClient) run(ctx context.Context) {
	defer func() {
		if c.conn != nil {
			c.conn.Close()
		}
	}()
	for ctx.Err() == nil {
		in, pl, l := c.choose()
		call := c.w.stamp()
		out, sent := c.exchange(pl)
		ret := c.w.stamp()
		if !sent {
			// No connection: nothing was sent, so nothing happened.
			time.Sleep(100 * time.Millisecond)
			continue
		}
		c.learn(l, in, out)
		c.w.record(c.id, in, out, call, ret)
		if out.unknown && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// choose picks the next operation: a new lineage, or an operation on a
// live one.
func (c *nemClient) choose() (nemOp, kmip.OperationPayload, *lineageRef) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.live) < w.maxLive/2 || c.rng.IntN(100) < 6 {
		w.next++
		l := &lineageRef{name: fmt.Sprintf("%s-%d", w.prefix, w.next), secret: c.rng.IntN(4) == 0}
		w.live = append(w.live, l)
		w.all = append(w.all, l)
		if len(w.live) > w.maxLive {
			w.live = w.live[1:]
		}
		if l.secret {
			return nemOp{kind: opRegister, lineage: l.name}, registerPayload(l.name), l
		}
		return nemOp{kind: opCreate, lineage: l.name}, createPayload(l.name), l
	}
	l := w.live[c.rng.IntN(len(w.live))]
	l.ops++
	if l.ops >= w.lifetime {
		w.live = slices.DeleteFunc(w.live, func(x *lineageRef) bool { return x == l })
	}
	if len(l.ids) == 0 || c.rng.IntN(100) < 8 {
		return nemOp{kind: opLocate, lineage: l.name}, locatePayload(l.name), l
	}
	id := l.ids[len(l.ids)-1]
	if c.rng.IntN(100) < 30 {
		id = l.ids[c.rng.IntN(len(l.ids))]
	}
	in := nemOp{lineage: l.name, id: id}
	var pl kmip.OperationPayload
	switch r := c.rng.IntN(100); {
	case r < 20:
		in.kind, pl = opGet, getPayload(id)
	case r < 42:
		in.kind, pl = opAttrs, attrsPayload(id)
	case r < 50:
		in.kind, in.value = opAdd, fmt.Sprintf("c%d-%d", c.id, c.rng.IntN(1000))
		pl = &payloads.AddAttributeRequestPayload{UniqueIdentifier: id, Attribute: contact(in.value)}
	case r < 58:
		in.kind, in.value = opModify, fmt.Sprintf("c%d-%d", c.id, c.rng.IntN(1000))
		pl = &payloads.ModifyAttributeRequestPayload{UniqueIdentifier: id, Attribute: contact(in.value)}
	case r < 62:
		in.kind = opDelete
		pl = &payloads.DeleteAttributeRequestPayload{UniqueIdentifier: id, AttributeName: kmip.AttributeNameContactInformation}
	case r < 72:
		in.kind, pl = opActivate, &payloads.ActivateRequestPayload{UniqueIdentifier: id}
	case r < 77:
		in.kind = opRevoke
		pl = &payloads.RevokeRequestPayload{UniqueIdentifier: id, RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeCessationOfOperation}}
	case r < 79:
		in.kind = opCompro
		pl = &payloads.RevokeRequestPayload{UniqueIdentifier: id, RevocationReason: kmip.RevocationReason{RevocationReasonCode: kmip.RevocationReasonCodeKeyCompromise}}
	case r < 85:
		in.kind, pl = opDestroy, &payloads.DestroyRequestPayload{UniqueIdentifier: id}
	case r < 92 && !l.secret && l.rekeys < maxGenerations-2:
		l.rekeys++
		in.kind, pl = opRekey, &payloads.RekeyRequestPayload{UniqueIdentifier: id}
	default:
		in.kind, in.id, pl = opLocate, "", locatePayload(l.name)
	}
	return in, pl, l
}

// learn adds the ids an answer names to the lineage.
func (c *nemClient) learn(l *lineageRef, in nemOp, out nemResult) {
	if !out.ok {
		return
	}
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	add := func(id string) {
		if id != "" && !slices.Contains(l.ids, id) {
			l.ids = append(l.ids, id)
		}
	}
	switch in.kind {
	case opCreate, opRegister, opRekey:
		add(out.id)
	case opLocate:
		for _, id := range out.ids {
			add(id)
		}
	}
}

// exchange sends one request and classifies the answer; sent is false
// when no connection could be opened.
func (c *nemClient) exchange(pl kmip.OperationPayload) (res nemResult, sent bool) {
	if c.conn == nil {
		d := &net.Dialer{Timeout: 2 * time.Second}
		conn, err := tls.DialWithDialer(d, "tcp", c.target(c.rng), c.w.tls)
		if err != nil {
			return nemResult{}, false
		}
		c.conn = conn
	}
	res, err := roundtripItem(c.conn, pl)
	if err != nil {
		c.conn.Close()
		c.conn = nil
		return nemResult{unknown: true, reason: firstLine(err)}, true
	}
	return res, true
}

// roundtripItem sends pl as a one-item KMIP 1.4 request and reads the
// answer.
func roundtripItem(conn net.Conn, pl kmip.OperationPayload) (nemResult, error) {
	msg := kmip.NewRequestMessage(kmip.V1_4, pl)
	raw, err := harness.Exchange(conn, ttlv.MarshalTTLV(&msg), opTimeout)
	if err != nil {
		return nemResult{}, err
	}
	var resp kmip.ResponseMessage
	if err := ttlv.UnmarshalTTLV(raw, &resp); err != nil {
		return nemResult{}, fmt.Errorf("decode: %w", err)
	}
	if len(resp.BatchItem) != 1 {
		return nemResult{}, fmt.Errorf("%d batch items", len(resp.BatchItem))
	}
	bi := resp.BatchItem[0]
	if bi.ResultStatus != kmip.ResultStatusSuccess {
		out := nemResult{reason: fmt.Sprintf("%s: %s", ttlv.EnumStr(bi.ResultReason), bi.ResultMessage)}
		// General Failure is what this server answers when it cannot say
		// whether the item ran (no leader, a deadline), except for the
		// answers that say it did not.
		out.unknown = bi.ResultReason == kmip.ResultReasonGeneralFailure && !strings.HasPrefix(bi.ResultMessage, "not executed")
		return out, nil
	}
	out := nemResult{ok: true}
	switch p := bi.ResponsePayload.(type) {
	case *payloads.CreateResponsePayload:
		out.id = p.UniqueIdentifier
	case *payloads.RegisterResponsePayload:
		out.id = p.UniqueIdentifier
	case *payloads.RekeyResponsePayload:
		out.id = p.UniqueIdentifier
	case *payloads.LocateResponsePayload:
		out.ids = append([]string{}, p.UniqueIdentifier...)
		sort.Strings(out.ids)
	case *payloads.GetResponsePayload:
		out.digest = objectDigest(p.Object)
	case *payloads.GetAttributesResponsePayload:
		for _, a := range p.Attribute {
			switch v := a.AttributeValue.(type) {
			case kmip.State:
				out.state = stateName(v)
			case string:
				if a.AttributeName == kmip.AttributeNameContactInformation {
					out.contact = v
				}
			case kmip.Name:
				out.names = append(out.names, v.NameValue)
			}
		}
	}
	return out, nil
}

// objectDigest identifies an object's material in a history.
func objectDigest(o kmip.Object) string {
	sum := sha256.Sum256(ttlv.MarshalTTLV(o))
	return hex.EncodeToString(sum[:])
}

func stateName(s kmip.State) string {
	switch s {
	case kmip.StatePreActive:
		return statePreActive
	case kmip.StateActive:
		return stateActive
	case kmip.StateDeactivated:
		return stateDeactivated
	case kmip.StateCompromised:
		return stateCompromised
	case kmip.StateDestroyed:
		return stateDestroyed
	case kmip.StateDestroyedCompromised:
		return stateDestroyedC
	}
	return fmt.Sprintf("state-%d", s)
}

func contact(v string) kmip.Attribute {
	return kmip.Attribute{AttributeName: kmip.AttributeNameContactInformation, AttributeValue: v}
}

func nameAttr(name string) kmip.Attribute {
	return kmip.Attribute{AttributeName: kmip.AttributeNameName, AttributeValue: kmip.Name{NameValue: name, NameType: kmip.NameTypeUninterpretedTextString}}
}

func createPayload(name string) *payloads.CreateRequestPayload {
	return &payloads.CreateRequestPayload{ObjectType: kmip.ObjectTypeSymmetricKey, TemplateAttribute: kmip.TemplateAttribute{Attribute: []kmip.Attribute{
		{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: kmip.CryptographicAlgorithmAES},
		{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: int32(256)},
		{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: kmip.CryptographicUsageEncrypt | kmip.CryptographicUsageDecrypt},
		nameAttr(name),
	}}}
}

func registerPayload(name string) *payloads.RegisterRequestPayload {
	material := make([]byte, 32)
	_, _ = rand.Read(material)
	return &payloads.RegisterRequestPayload{
		ObjectType: kmip.ObjectTypeSecretData,
		Object: &kmip.SecretData{SecretDataType: kmip.SecretDataTypePassword, KeyBlock: kmip.KeyBlock{
			KeyFormatType: kmip.KeyFormatTypeOpaque,
			KeyValue:      &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &material}}},
		}},
		TemplateAttribute: kmip.TemplateAttribute{Attribute: []kmip.Attribute{
			{AttributeName: kmip.AttributeNameCryptographicUsageMask, AttributeValue: kmip.CryptographicUsageDeriveKey},
			nameAttr(name),
		}},
	}
}

func getPayload(id string) *payloads.GetRequestPayload {
	return &payloads.GetRequestPayload{UniqueIdentifier: id}
}

// attrsPayload asks for what the model checks.
func attrsPayload(id string) *payloads.GetAttributesRequestPayload {
	return &payloads.GetAttributesRequestPayload{UniqueIdentifier: id, AttributeName: []kmip.AttributeName{
		kmip.AttributeNameState, kmip.AttributeNameContactInformation, kmip.AttributeNameName}}
}

func locatePayload(name string) *payloads.LocateRequestPayload {
	return &payloads.LocateRequestPayload{Attribute: []kmip.Attribute{nameAttr(name)}}
}

// firstLine is an error's first line, for a history entry.
func firstLine(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
