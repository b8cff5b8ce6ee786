package kmip

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
	"google.golang.org/protobuf/proto"

	"github.com/kmsd/kmsd/fsm"
	"github.com/kmsd/kmsd/proto/kmsdpb"
)

// handler executes one batch item.
type handler func(ctx context.Context, rc *reqCtx, req kmip.OperationPayload) (kmip.OperationPayload, error)

// route is one supported operation.
type route struct {
	since kmip.ProtocolVersion // first protocol version that defines it
	h     handler
}

// handle adapts a typed operation handler.
func handle[Req, Resp kmip.OperationPayload](f func(context.Context, *reqCtx, Req) (Resp, error)) handler {
	return func(ctx context.Context, rc *reqCtx, req kmip.OperationPayload) (kmip.OperationPayload, error) {
		p, ok := req.(Req)
		if !ok {
			return nil, errNotSupported
		}
		return f(ctx, rc, p)
	}
}

// routeDef is a registered operation: each operation family registers its
// routes in an init function of its own file.
type routeDef struct {
	since kmip.ProtocolVersion
	bind  func(*Service) handler
}

var routeDefs = map[kmip.Operation]routeDef{}

// registerRoute adds an operation; registering one twice is a programming
// error.
func registerRoute(op kmip.Operation, since kmip.ProtocolVersion, bind func(*Service) handler) {
	if _, dup := routeDefs[op]; dup {
		panic(fmt.Sprintf("kmip: operation %v registered twice", op))
	}
	routeDefs[op] = routeDef{since: since, bind: bind}
}

// buildRoutes binds every registered operation to this service.
func (s *Service) buildRoutes() map[kmip.Operation]route {
	routes := make(map[kmip.Operation]route, len(routeDefs))
	for op, d := range routeDefs {
		routes[op] = route{since: d.since, h: d.bind(s)}
	}
	return routes
}

// operations lists the operations available in version v, in code order.
func (s *Service) operations(v kmip.ProtocolVersion) []kmip.Operation {
	var ops []kmip.Operation
	for op, r := range s.routes {
		if ttlv.CompareVersions(v, r.since) >= 0 {
			ops = append(ops, op)
		}
	}
	slices.Sort(ops)
	return ops
}

// propose commits one command and returns the state machine's result.
func (s *Service) propose(ctx context.Context, rc *reqCtx, t kmsdpb.CommandType, body proto.Message) (*fsm.Result, error) {
	reqID := make([]byte, 16)
	if _, err := rand.Read(reqID); err != nil {
		return nil, err
	}
	env := &kmsdpb.Command{RequestId: reqID, TimeUnixNano: rc.now.UnixNano(), Actor: rc.tenant, Identity: rc.identity, Undoable: rc.journal != nil}
	data, err := fsm.Encode(t, env, body)
	if err != nil {
		return nil, err
	}
	res, err := s.cfg.Replicator.Apply(ctx, data)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, res.Err
	}
	if rc.journal != nil {
		rc.journal.record(res.Undo)
	}
	return res, nil
}

// object returns a stored object the client owns, resolving an empty id to
// the batch's ID Placeholder.
func (s *Service) object(ctx context.Context, rc *reqCtx, id string) (*fsm.Object, error) {
	id, err := rc.resolve(id)
	if err != nil {
		return nil, err
	}
	// Objects of another tenant do not exist for this client: the read
	// takes the same path, read barrier included, as for a missing one.
	o, err := s.read(ctx, rc, func() (*fsm.Object, error) {
		o, err := s.cfg.Store.Get(id)
		if err == nil && o.Owner != rc.tenant {
			return nil, fsm.ErrNotFound
		}
		return o, err
	})
	if err != nil {
		return nil, err
	}
	if err := rc.allowType(kmip.ObjectType(o.Type)); err != nil {
		return nil, err
	}
	return o, nil
}

func (rc *reqCtx) resolve(id string) (string, error) {
	if id != "" {
		return id, nil
	}
	if rc.placeholder == "" {
		return "", errNoPlaceholder
	}
	return rc.placeholder, nil
}

// read runs a local read. With consistent reads it first waits for a read
// barrier; otherwise a "not found" from a node that may lag behind is
// confirmed after a barrier, so that a client moving between nodes never
// sees an acknowledged object vanish.
func (s *Service) read(ctx context.Context, rc *reqCtx, get func() (*fsm.Object, error)) (*fsm.Object, error) {
	if s.cfg.ConsistentReads {
		if err := s.sync(ctx, rc); err != nil {
			return nil, err
		}
	}
	o, err := get()
	if !errors.Is(err, fsm.ErrNotFound) || rc.synced {
		return o, err
	}
	if err := s.sync(ctx, rc); err != nil {
		return nil, err
	}
	return get()
}

// sync waits for a read barrier once per request message.
func (s *Service) sync(ctx context.Context, rc *reqCtx) error {
	if rc.synced {
		return nil
	}
	if err := s.cfg.Replicator.ReadBarrier(ctx); err != nil {
		return err
	}
	rc.synced = true
	return nil
}
