package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipserver"
	"github.com/ovh/kmip-go/payloads"

	"github.com/kmsd/kmsd/cluster/devpki"
)

// fakeObject is one managed object of the fake server.
type fakeObject struct {
	obj   kmip.Object
	attrs []kmip.Attribute // client-settable attributes, in arrival order
	state kmip.State
}

// fakeKMS is a map-backed KMIP server, just enough of the life cycle
// (KMIP 1.4 "State") for kmsctl's commands.
type fakeKMS struct {
	mu      sync.Mutex
	next    int
	objects map[string]*fakeObject
	// ignorePlaceholder makes Activate require an explicit id, like a
	// server without batch ID Placeholder support.
	ignorePlaceholder atomic.Bool
}

// startFakeKMS serves fakeKMS over mutual TLS from a fresh dev PKI and
// returns the server address and the dev dir (with its pki/ subdirectory).
func startFakeKMS(t *testing.T) (addr, devDir string, kms *fakeKMS) {
	t.Helper()
	return startFakeKMSWith(t, nil)
}

// startFakeKMSWith is startFakeKMS with a hook to adjust the routes.
func startFakeKMSWith(t *testing.T, configure func(*kmipserver.BatchExecutor)) (addr, devDir string, kms *fakeKMS) {
	t.Helper()
	devDir = t.TempDir()
	p, err := devpki.Ensure(filepath.Join(devDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := devpki.ServerTLS(p)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	kms = &fakeKMS{objects: map[string]*fakeObject{}}
	exec := kms.executor()
	if configure != nil {
		configure(exec)
	}
	srv := kmipserver.NewServer(ln, exec)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve()
	}()
	t.Cleanup(func() {
		_ = srv.Shutdown()
		<-done
	})
	return ln.Addr().String(), devDir, kms
}

func (f *fakeKMS) executor() *kmipserver.BatchExecutor {
	exec := kmipserver.NewBatchExecutor()
	exec.Route(kmip.OperationCreate, kmipserver.HandleFunc(f.create))
	exec.Route(kmip.OperationRegister, kmipserver.HandleFunc(f.register))
	exec.Route(kmip.OperationGet, kmipserver.HandleFunc(f.get))
	exec.Route(kmip.OperationLocate, kmipserver.HandleFunc(f.locate))
	exec.Route(kmip.OperationActivate, kmipserver.HandleFunc(f.activate))
	exec.Route(kmip.OperationRevoke, kmipserver.HandleFunc(f.revoke))
	exec.Route(kmip.OperationDestroy, kmipserver.HandleFunc(f.destroy))
	exec.Route(kmip.OperationGetAttributes, kmipserver.HandleFunc(f.getAttributes))
	return exec
}

func (f *fakeKMS) add(ctx context.Context, obj kmip.Object, attrs []kmip.Attribute) string {
	f.next++
	id := fmt.Sprintf("key-%d", f.next)
	f.objects[id] = &fakeObject{obj: obj, attrs: attrs, state: kmip.StatePreActive}
	kmipserver.SetIdPlaceholder(ctx, id)
	return id
}

// lookup resolves the id (or the batch's ID Placeholder) under f.mu.
func (f *fakeKMS) lookup(ctx context.Context, id string) (string, *fakeObject, error) {
	id, err := kmipserver.GetIdOrPlaceholder(ctx, id)
	if err != nil {
		return "", nil, kmipserver.ErrMissingData
	}
	o, ok := f.objects[id]
	if !ok {
		return "", nil, kmipserver.ErrItemNotFound
	}
	return id, o, nil
}

func findAttr(attrs []kmip.Attribute, name kmip.AttributeName) any {
	for _, a := range attrs {
		if a.AttributeName == name {
			return a.AttributeValue
		}
	}
	return nil
}

func (f *fakeKMS) create(ctx context.Context, req *payloads.CreateRequestPayload) (*payloads.CreateResponsePayload, error) {
	if req.ObjectType != kmip.ObjectTypeSymmetricKey {
		return nil, kmipserver.ErrFeatureNotSupported
	}
	attrs := req.TemplateAttribute.Attribute
	alg, _ := findAttr(attrs, kmip.AttributeNameCryptographicAlgorithm).(kmip.CryptographicAlgorithm)
	length, _ := findAttr(attrs, kmip.AttributeNameCryptographicLength).(int32)
	if alg == 0 || length <= 0 || length%8 != 0 {
		return nil, kmipserver.Errorf(kmip.ResultReasonInvalidField, "bad algorithm or length")
	}
	material := make([]byte, length/8)
	_, _ = rand.Read(material)
	key := &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
		KeyFormatType:          kmip.KeyFormatTypeRaw,
		CryptographicAlgorithm: alg,
		CryptographicLength:    length,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &material}}},
	}}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.add(ctx, key, slices.Clone(attrs))
	return &payloads.CreateResponsePayload{ObjectType: req.ObjectType, UniqueIdentifier: id}, nil
}

func (f *fakeKMS) register(ctx context.Context, req *payloads.RegisterRequestPayload) (*payloads.RegisterResponsePayload, error) {
	attrs := slices.Clone(req.TemplateAttribute.Attribute)
	if k, ok := req.Object.(*kmip.SymmetricKey); ok {
		attrs = append(attrs,
			kmip.Attribute{AttributeName: kmip.AttributeNameCryptographicAlgorithm, AttributeValue: k.KeyBlock.CryptographicAlgorithm},
			kmip.Attribute{AttributeName: kmip.AttributeNameCryptographicLength, AttributeValue: k.KeyBlock.CryptographicLength})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return &payloads.RegisterResponsePayload{UniqueIdentifier: f.add(ctx, req.Object, attrs)}, nil
}

func (f *fakeKMS) get(ctx context.Context, req *payloads.GetRequestPayload) (*payloads.GetResponsePayload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, o, err := f.lookup(ctx, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	if o.state == kmip.StateDestroyed || o.state == kmip.StateDestroyedCompromised {
		return nil, kmipserver.Errorf(kmip.ResultReasonKeyValueNotPresent, "object destroyed")
	}
	obj := o.obj
	if k, ok := obj.(*kmip.SymmetricKey); ok && req.KeyFormatType == kmip.KeyFormatTypeTransparentSymmetricKey {
		b, _ := k.KeyBlock.GetBytes()
		kb := k.KeyBlock
		kb.KeyFormatType = kmip.KeyFormatTypeTransparentSymmetricKey
		kb.KeyValue = &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{
			TransparentSymmetricKey: &kmip.TransparentSymmetricKey{Key: b},
		}}}
		obj = &kmip.SymmetricKey{KeyBlock: kb}
	}
	return &payloads.GetResponsePayload{ObjectType: obj.ObjectType(), UniqueIdentifier: id, Object: obj}, nil
}

// allAttrs adds the server-maintained attributes to the stored ones.
func (o *fakeObject) allAttrs(id string) []kmip.Attribute {
	out := []kmip.Attribute{
		{AttributeName: kmip.AttributeNameUniqueIdentifier, AttributeValue: id},
		{AttributeName: kmip.AttributeNameObjectType, AttributeValue: o.obj.ObjectType()},
		{AttributeName: kmip.AttributeNameState, AttributeValue: o.state},
	}
	return append(out, o.attrs...)
}

func (f *fakeKMS) locate(ctx context.Context, req *payloads.LocateRequestPayload) (*payloads.LocateResponsePayload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, o := range f.objects {
		all := o.allAttrs(id)
		match := true
		for _, want := range req.Attribute {
			if !slices.ContainsFunc(all, func(a kmip.Attribute) bool {
				return a.AttributeName == want.AttributeName && reflect.DeepEqual(a.AttributeValue, want.AttributeValue)
			}) {
				match = false
			}
		}
		if match {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	n := int32(len(ids))
	ids = ids[min(int(req.OffsetItems), len(ids)):]
	if req.MaximumItems > 0 && int(req.MaximumItems) < len(ids) {
		ids = ids[:req.MaximumItems]
	}
	return &payloads.LocateResponsePayload{LocatedItems: &n, UniqueIdentifier: ids}, nil
}

func (f *fakeKMS) setState(ctx context.Context, id string, from []kmip.State, to kmip.State, date kmip.AttributeName) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, o, err := f.lookup(ctx, id)
	if err != nil {
		return "", err
	}
	if !slices.Contains(from, o.state) {
		return "", kmipserver.Errorf(kmip.ResultReasonIllegalOperation, "object is %s", enumText(o.state))
	}
	o.state = to
	o.attrs = append(o.attrs, kmip.Attribute{AttributeName: date, AttributeValue: time.Now().Truncate(time.Second)})
	return id, nil
}

func (f *fakeKMS) activate(ctx context.Context, req *payloads.ActivateRequestPayload) (*payloads.ActivateResponsePayload, error) {
	if req.UniqueIdentifier == "" && f.ignorePlaceholder.Load() {
		return nil, kmipserver.ErrMissingData
	}
	id, err := f.setState(ctx, req.UniqueIdentifier, []kmip.State{kmip.StatePreActive}, kmip.StateActive, kmip.AttributeNameActivationDate)
	return &payloads.ActivateResponsePayload{UniqueIdentifier: id}, err
}

func (f *fakeKMS) revoke(ctx context.Context, req *payloads.RevokeRequestPayload) (*payloads.RevokeResponsePayload, error) {
	to, date := kmip.StateDeactivated, kmip.AttributeNameDeactivationDate
	if c := req.RevocationReason.RevocationReasonCode; c == kmip.RevocationReasonCodeKeyCompromise || c == kmip.RevocationReasonCodeCACompromise {
		to, date = kmip.StateCompromised, kmip.AttributeNameCompromiseDate
	}
	id, err := f.setState(ctx, req.UniqueIdentifier, []kmip.State{kmip.StatePreActive, kmip.StateActive}, to, date)
	return &payloads.RevokeResponsePayload{UniqueIdentifier: id}, err
}

func (f *fakeKMS) destroy(ctx context.Context, req *payloads.DestroyRequestPayload) (*payloads.DestroyResponsePayload, error) {
	id, err := f.setState(ctx, req.UniqueIdentifier, []kmip.State{kmip.StatePreActive, kmip.StateDeactivated}, kmip.StateDestroyed, kmip.AttributeNameDestroyDate)
	return &payloads.DestroyResponsePayload{UniqueIdentifier: id}, err
}

func (f *fakeKMS) getAttributes(ctx context.Context, req *payloads.GetAttributesRequestPayload) (*payloads.GetAttributesResponsePayload, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, o, err := f.lookup(ctx, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	resp := &payloads.GetAttributesResponsePayload{UniqueIdentifier: id}
	for _, a := range o.allAttrs(id) {
		if len(req.AttributeName) == 0 || slices.Contains(req.AttributeName, a.AttributeName) {
			resp.Attribute = append(resp.Attribute, a)
		}
	}
	return resp, nil
}

func TestMain(m *testing.M) {
	// kmipserver logs every connection through slog's default logger.
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	m.Run()
}
