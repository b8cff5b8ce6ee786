// Command ceiling is the fastest KMIP server this machine can run with
// kmsd's codec and TLS stack: ovh/kmip-go's kmipserver over mutual TLS,
// objects in a map, no Raft, no disk, no sealing, no policy. `kmsctl bench`
// against it measures the upper bound that kmsd's own work is compared
// with (bench/compare.sh).
//
// It answers Discover Versions (kmipserver does), Create (AES keys from
// crypto/rand), Register, Get, Get Attributes, Activate, Revoke and
// Destroy (state changes without checks), and Locate by Name. It is a
// measuring tool, not a server to keep keys in.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipserver"
	"github.com/ovh/kmip-go/payloads"
)

type object struct {
	obj   kmip.Object
	attrs []kmip.Attribute
	state kmip.State
}

type store struct {
	mu      sync.RWMutex
	objects map[string]*object
	byName  map[string][]string
}

func nameOf(attrs []kmip.Attribute) (string, bool) {
	for _, a := range attrs {
		if n, ok := a.AttributeValue.(kmip.Name); ok && a.AttributeName == kmip.AttributeNameName {
			return n.NameValue, true
		}
	}
	return "", false
}

func (s *store) add(ctx context.Context, obj kmip.Object, attrs []kmip.Attribute) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	s.mu.Lock()
	s.objects[id] = &object{obj: obj, attrs: attrs, state: kmip.StatePreActive}
	if name, ok := nameOf(attrs); ok {
		s.byName[name] = append(s.byName[name], id)
	}
	s.mu.Unlock()
	kmipserver.SetIdPlaceholder(ctx, id)
	return id
}

func (s *store) find(ctx context.Context, id string) (string, *object, error) {
	id, err := kmipserver.GetIdOrPlaceholder(ctx, id)
	if err != nil {
		return "", nil, kmipserver.ErrMissingData
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.objects[id]
	if !ok {
		return "", nil, kmipserver.ErrItemNotFound
	}
	return id, o, nil
}

func (s *store) create(ctx context.Context, req *payloads.CreateRequestPayload) (*payloads.CreateResponsePayload, error) {
	if req.ObjectType != kmip.ObjectTypeSymmetricKey {
		return nil, kmipserver.ErrFeatureNotSupported
	}
	length := int32(256)
	for _, a := range req.TemplateAttribute.Attribute {
		if l, ok := a.AttributeValue.(int32); ok && a.AttributeName == kmip.AttributeNameCryptographicLength && l > 0 && l%8 == 0 && l <= 512 {
			length = l
		}
	}
	material := make([]byte, length/8)
	_, _ = rand.Read(material)
	key := &kmip.SymmetricKey{KeyBlock: kmip.KeyBlock{
		KeyFormatType:          kmip.KeyFormatTypeRaw,
		CryptographicAlgorithm: kmip.CryptographicAlgorithmAES,
		CryptographicLength:    length,
		KeyValue:               &kmip.KeyValue{Plain: &kmip.PlainKeyValue{KeyMaterial: kmip.KeyMaterial{Bytes: &material}}},
	}}
	id := s.add(ctx, key, slices.Clone(req.TemplateAttribute.Attribute))
	return &payloads.CreateResponsePayload{ObjectType: req.ObjectType, UniqueIdentifier: id}, nil
}

func (s *store) register(ctx context.Context, req *payloads.RegisterRequestPayload) (*payloads.RegisterResponsePayload, error) {
	if req.Object == nil {
		return nil, kmipserver.ErrMissingData
	}
	id := s.add(ctx, req.Object, slices.Clone(req.TemplateAttribute.Attribute))
	return &payloads.RegisterResponsePayload{UniqueIdentifier: id}, nil
}

func (s *store) get(ctx context.Context, req *payloads.GetRequestPayload) (*payloads.GetResponsePayload, error) {
	id, o, err := s.find(ctx, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	return &payloads.GetResponsePayload{ObjectType: o.obj.ObjectType(), UniqueIdentifier: id, Object: o.obj}, nil
}

func (s *store) getAttributes(ctx context.Context, req *payloads.GetAttributesRequestPayload) (*payloads.GetAttributesResponsePayload, error) {
	id, o, err := s.find(ctx, req.UniqueIdentifier)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	all := append([]kmip.Attribute{
		{AttributeName: kmip.AttributeNameUniqueIdentifier, AttributeValue: id},
		{AttributeName: kmip.AttributeNameObjectType, AttributeValue: o.obj.ObjectType()},
		{AttributeName: kmip.AttributeNameState, AttributeValue: o.state},
	}, o.attrs...)
	s.mu.RUnlock()
	resp := &payloads.GetAttributesResponsePayload{UniqueIdentifier: id}
	for _, a := range all {
		if len(req.AttributeName) == 0 || slices.Contains(req.AttributeName, a.AttributeName) {
			resp.Attribute = append(resp.Attribute, a)
		}
	}
	return resp, nil
}

// setState is Activate, Revoke and Destroy: the new state, without checks.
func (s *store) setState(ctx context.Context, id string, to kmip.State) (string, error) {
	id, o, err := s.find(ctx, id)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	o.state = to
	s.mu.Unlock()
	return id, nil
}

func (s *store) activate(ctx context.Context, req *payloads.ActivateRequestPayload) (*payloads.ActivateResponsePayload, error) {
	id, err := s.setState(ctx, req.UniqueIdentifier, kmip.StateActive)
	return &payloads.ActivateResponsePayload{UniqueIdentifier: id}, err
}

func (s *store) revoke(ctx context.Context, req *payloads.RevokeRequestPayload) (*payloads.RevokeResponsePayload, error) {
	id, err := s.setState(ctx, req.UniqueIdentifier, kmip.StateDeactivated)
	return &payloads.RevokeResponsePayload{UniqueIdentifier: id}, err
}

func (s *store) destroy(ctx context.Context, req *payloads.DestroyRequestPayload) (*payloads.DestroyResponsePayload, error) {
	id, err := s.setState(ctx, req.UniqueIdentifier, kmip.StateDestroyed)
	return &payloads.DestroyResponsePayload{UniqueIdentifier: id}, err
}

func (s *store) locate(_ context.Context, req *payloads.LocateRequestPayload) (*payloads.LocateResponsePayload, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []string
	if name, ok := nameOf(req.Attribute); ok {
		ids = slices.Clone(s.byName[name])
	} else {
		for id := range s.objects {
			ids = append(ids, id)
		}
	}
	n := int32(len(ids))
	if req.MaximumItems > 0 && int(req.MaximumItems) < len(ids) {
		ids = ids[:req.MaximumItems]
	}
	return &payloads.LocateResponsePayload{LocatedItems: &n, UniqueIdentifier: ids}, nil
}

func (s *store) executor() *kmipserver.BatchExecutor {
	exec := kmipserver.NewBatchExecutor()
	exec.Route(kmip.OperationCreate, kmipserver.HandleFunc(s.create))
	exec.Route(kmip.OperationRegister, kmipserver.HandleFunc(s.register))
	exec.Route(kmip.OperationGet, kmipserver.HandleFunc(s.get))
	exec.Route(kmip.OperationGetAttributes, kmipserver.HandleFunc(s.getAttributes))
	exec.Route(kmip.OperationLocate, kmipserver.HandleFunc(s.locate))
	exec.Route(kmip.OperationActivate, kmipserver.HandleFunc(s.activate))
	exec.Route(kmip.OperationRevoke, kmipserver.HandleFunc(s.revoke))
	exec.Route(kmip.OperationDestroy, kmipserver.HandleFunc(s.destroy))
	return exec
}

func serverTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:5696", "KMIP listen address")
	ca := flag.String("ca", "", "CA certificate that client certificates must chain to")
	cert := flag.String("cert", "", "server certificate")
	key := flag.String("key", "", "server private key")
	flag.Parse()
	if *ca == "" || *cert == "" || *key == "" {
		fmt.Fprintln(os.Stderr, "ceiling: --ca, --cert and --key are required")
		os.Exit(2)
	}
	// kmipserver logs every connection at Info.
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	cfg, err := serverTLS(*ca, *cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	ln, err := tls.Listen("tcp", *addr, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
	s := &store{objects: map[string]*object{}, byName: map[string][]string{}}
	srv := kmipserver.NewServer(ln, s.executor())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		_ = srv.Shutdown()
	}()
	fmt.Printf("ceiling: KMIP (mTLS) on %s\n", ln.Addr())
	if err := srv.Serve(); err != nil && err != kmipserver.ErrShutdown {
		fmt.Fprintln(os.Stderr, "ceiling:", err)
		os.Exit(1)
	}
}
