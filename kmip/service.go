package kmip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/kmip/policy"
)

// MaxBatchItems bounds the number of operations in one request message.
const MaxBatchItems = 1000

// supportedVersions are the protocol versions this server speaks, newest first.
var supportedVersions = []kmip.ProtocolVersion{kmip.V1_4, kmip.V1_3, kmip.V1_2, kmip.V1_1, kmip.V1_0}

// Config configures a Service. Zero values get defaults, except the three
// dependencies, which are required.
type Config struct {
	Replicator Replicator
	Store      Store
	Sealer     Sealer
	Logger     *slog.Logger
	// Now returns the current time; tests may fix it.
	Now func() time.Time
	// ServerInfo is the vendor text returned by Query Server Information.
	ServerInfo string
	// ConsistentReads makes every read linearizable: each request message
	// that reads waits for a read barrier first. Without it a read is
	// served locally, and only an answer of "not found" is confirmed.
	ConsistentReads bool
	// Available, when set, is asked before every request message; while
	// it returns an error nothing is read or written and every message is
	// answered with a General Failure: "sealed" for ErrSealed (the node
	// waits for an operator), "temporarily unavailable" otherwise (the node
	// is starting).
	Available func() error
	// LocateMaxItems bounds the identifiers one Locate returns, when the
	// client gives no Maximum Items or a larger one; default 1000.
	LocateMaxItems int
	// MaxKeyPairGenerations bounds the key-pair operations (Create Key
	// Pair, Re-key Key Pair) running at once; default
	// DefaultMaxKeyPairGenerations().
	MaxKeyPairGenerations int
	// RateLimit is the batch items per second each client identity may
	// run, over all its connections, with bursts of RateBurst (0: twice
	// RateLimit); 0 means no limit. A request message over the limit is
	// answered General Failure in every batch item and runs nothing.
	RateLimit float64
	RateBurst int
	// Policy maps client identities to tenants and roles; nil makes every
	// identity a tenant of its own with the role user.
	Policy PolicySource
	// Audit, when set, records every batch item (audit.go); nil records
	// nothing.
	Audit Auditor
}

// DefaultLocateMaxItems is Config.LocateMaxItems unless set.
const DefaultLocateMaxItems = 1000

// Service executes KMIP request messages.
type Service struct {
	cfg    Config
	logger *slog.Logger
	routes map[kmip.Operation]route
	fresh  *freshMarker
	usage  *usageMeter
	keyGen semaphore
	rates  *rateLimits
	creds  *credentialCache
}

// NewService returns a Service with every operation route registered.
func NewService(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ServerInfo == "" {
		cfg.ServerInfo = "kmsd"
	}
	if cfg.LocateMaxItems <= 0 {
		cfg.LocateMaxItems = DefaultLocateMaxItems
	}
	if cfg.MaxKeyPairGenerations <= 0 {
		cfg.MaxKeyPairGenerations = DefaultMaxKeyPairGenerations()
	}
	s := &Service{cfg: cfg, logger: cfg.Logger.With("component", "kmip"), keyGen: make(semaphore, cfg.MaxKeyPairGenerations),
		rates: newRateLimits(cfg.RateLimit, cfg.RateBurst), creds: newCredentialCache(cfg.Now)}
	s.routes = s.buildRoutes()
	s.fresh = newFreshMarker(s)
	s.usage = newUsageMeter(s)
	return s
}

// Close finishes the work a Service does after its answers: it records
// which of the objects served were fresh, until ctx ends. Call it once no
// request is executing any more.
func (s *Service) Close(ctx context.Context) {
	s.fresh.close(ctx)
}

// reqCtx is the per-message state shared by the items of one batch.
type reqCtx struct {
	identity    string // policy.Identity.String()
	tenant      string // owns what the client creates; the only objects it sees
	role        *policy.Role
	requestID   string // made per request message, for the audit log
	remote      string // the client's address
	version     kmip.ProtocolVersion
	now         time.Time
	placeholder string       // ID Placeholder
	synced      bool         // a read barrier completed during this message
	journal     *undoJournal // with Batch Error Continuation Option Undo
}

// negotiate picks the version to answer in: the request's if supported,
// otherwise the newest version not above it, otherwise the oldest.
func negotiate(v kmip.ProtocolVersion) kmip.ProtocolVersion {
	for _, s := range supportedVersions {
		if ttlv.CompareVersions(s, v) <= 0 {
			return s
		}
	}
	return supportedVersions[len(supportedVersions)-1]
}

func isSupported(v kmip.ProtocolVersion) bool {
	for _, s := range supportedVersions {
		if s == v {
			return true
		}
	}
	return false
}

// Execute runs one request message for an in-process caller known by name
// (policy.Named) and returns the encoded response.
func (s *Service) Execute(ctx context.Context, name string, req *kmip.RequestMessage) []byte {
	return s.ExecuteAs(ctx, policy.Named(name), req)
}

// ExecuteAs runs one request message for a client identity and returns the
// encoded response.
func (s *Service) ExecuteAs(ctx context.Context, id policy.Identity, req *kmip.RequestMessage) []byte {
	resp := s.execute(ctx, id, req)
	b, err := encodeResponse(resp)
	if err != nil {
		s.logger.Error("cannot encode response", "err", err)
		return errorResponse(resp.Header.ProtocolVersion, errInternal)
	}
	if max := req.Header.MaximumResponseSize; max > 0 && len(b) > int(max) {
		for i := range resp.BatchItem {
			resp.BatchItem[i] = failedItem(resp.BatchItem[i], errorf(kmip.ResultReasonResponseTooLarge, "response exceeds Maximum Response Size"))
		}
		if b, err = encodeResponse(resp); err != nil {
			return errorResponse(resp.Header.ProtocolVersion, errInternal)
		}
	}
	return b
}

func (s *Service) execute(ctx context.Context, id policy.Identity, req *kmip.RequestMessage) *kmip.ResponseMessage {
	identity := id.String()
	hdr := req.Header
	version := negotiate(hdr.ProtocolVersion)
	now := s.cfg.Store.Now(s.cfg.Now()).UTC().Truncate(time.Second)
	rc := &reqCtx{identity: identity, version: version, now: now, requestID: correlationValue(), remote: remoteOf(ctx)}
	messageError := func(version kmip.ProtocolVersion, hdr kmip.RequestHeader, err error) *kmip.ResponseMessage {
		resp := messageError(version, hdr, now, err)
		s.auditRefused(rc, req, resp)
		return resp
	}
	if s.cfg.Available != nil {
		if err := s.cfg.Available(); errors.Is(err, ErrSealed) {
			return messageError(version, hdr, errSealed)
		} else if err != nil {
			return messageError(version, hdr, errUnavailable)
		}
	}
	switch {
	case !isSupported(hdr.ProtocolVersion):
		return messageError(version, hdr, errorf(kmip.ResultReasonInvalidMessage, "protocol version not supported"))
	case hdr.BatchCount <= 0 || int(hdr.BatchCount) != len(req.BatchItem):
		return messageError(version, hdr, errorf(kmip.ResultReasonInvalidMessage, "batch count does not match the batch items"))
	case len(req.BatchItem) > MaxBatchItems:
		return messageError(version, hdr, errorf(kmip.ResultReasonInvalidMessage, "too many batch items"))
	}
	if !s.rates.allow(identity, s.cfg.Now(), len(req.BatchItem)) {
		resp := everyItemFails(version, hdr, now, req.BatchItem, errRateLimited)
		s.auditRefused(rc, req, resp)
		return resp
	}
	pr, err := s.principal(id, credentialOf(hdr))
	switch {
	case errors.Is(err, policy.ErrBadCredential):
		s.logger.Warn("credential not accepted", "client", identity)
		resp := everyItemFails(version, hdr, now, req.BatchItem, errBadCredential)
		s.auditRefused(rc, req, resp)
		return resp
	case err != nil:
		s.logger.Error("cannot read the access policy", "err", err)
		return messageError(version, hdr, errInternal)
	}
	// KMIP 1.4 §6.16: when absent, Stop is assumed.
	stopOnError := hdr.BatchErrorContinuationOption != kmip.BatchErrorContinuationOptionContinue

	rc.tenant, rc.role = pr.Tenant, pr.Role
	undo := hdr.BatchErrorContinuationOption == kmip.BatchErrorContinuationOptionUndo
	if undo {
		rc.journal = &undoJournal{}
	}
	if hdr.ClientCorrelationValue != "" {
		s.logger.Debug("request", "client", identity, "client_correlation", truncate(hdr.ClientCorrelationValue))
	}
	resp := &kmip.ResponseMessage{
		Header:    responseHeader(version, hdr, rc.now),
		BatchItem: make([]kmip.ResponseBatchItem, len(req.BatchItem)),
	}
	stopped := false
	for i := range req.BatchItem {
		bi := &req.BatchItem[i]
		item := kmip.ResponseBatchItem{Operation: bi.Operation, UniqueBatchItemID: bi.UniqueBatchItemID}
		switch {
		case stopped:
			resp.BatchItem[i] = s.auditItem(rc, i, bi, failedItem(item, errorf(kmip.ResultReasonOperationCanceledByRequester, "not executed: an earlier batch item failed")))
			continue
		case ctx.Err() != nil:
			// The deadline is checked between items, so that a long batch
			// ends near it instead of running on.
			resp.BatchItem[i] = failedItem(item, notExecuted(ctx.Err()))
		case !s.auditReady():
			resp.BatchItem[i] = failedItem(item, errAuditUnavailable)
		default:
			resp.BatchItem[i] = s.executeItem(ctx, rc, bi, item)
		}
		resp.BatchItem[i] = s.auditItem(rc, i, bi, resp.BatchItem[i])
		if resp.BatchItem[i].ResultStatus != kmip.ResultStatusSuccess {
			// A failed item clears the ID Placeholder so later items cannot
			// act on an object the client did not intend.
			rc.placeholder = ""
			stopped = stopOnError
			if undo {
				undone := s.undoneIDs(req.BatchItem[:i], resp.BatchItem[:i])
				uctx, cancel := undoContext(ctx)
				s.undoBatch(uctx, rc, resp.BatchItem[:i])
				cancel()
				s.auditUndo(rc, i, undone, resp.BatchItem[:i])
			}
		}
	}
	return resp
}

func (s *Service) executeItem(ctx context.Context, rc *reqCtx, bi *kmip.RequestBatchItem, item kmip.ResponseBatchItem) (out kmip.ResponseBatchItem) {
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("operation handler panicked", "operation", ttlv.EnumStr(bi.Operation), "panic", r, "stack", string(debug.Stack()))
			out = failedItem(item, errInternal)
		}
	}()
	if me := bi.MessageExtension; me != nil && me.CriticalityIndicator {
		return failedItem(item, errorf(kmip.ResultReasonFeatureNotSupported, "critical message extension not supported"))
	}
	r, ok := s.routes[bi.Operation]
	if !ok || ttlv.CompareVersions(rc.version, r.since) < 0 {
		return failedItem(item, errNotSupported)
	}
	if _, unknown := bi.RequestPayload.(*kmip.UnknownPayload); unknown || bi.RequestPayload == nil {
		return failedItem(item, errNotSupported)
	}
	if !rc.role.Allows(bi.Operation) {
		return failedItem(item, errPermissionDenied)
	}
	if keyPairOperations[bi.Operation] {
		if err := s.keyGen.acquire(ctx); err != nil {
			return failedItem(item, err)
		}
		defer s.keyGen.release()
	}
	payload, err := r.h(ctx, rc, bi.RequestPayload)
	if err != nil {
		e, internal := clientError(err)
		if internal {
			s.logger.Error("operation failed", "operation", ttlv.EnumStr(bi.Operation), "client", rc.identity, "err", err)
		}
		return failedItem(item, e)
	}
	item.ResultStatus = kmip.ResultStatusSuccess
	item.ResponsePayload = payload
	return item
}

func failedItem(item kmip.ResponseBatchItem, err error) kmip.ResponseBatchItem {
	e, _ := clientError(err)
	item.ResultStatus = kmip.ResultStatusOperationFailed
	item.ResultReason = e.Reason
	item.ResultMessage = e.Message
	item.ResponsePayload = nil
	return item
}

func responseHeader(version kmip.ProtocolVersion, hdr kmip.RequestHeader, now time.Time) kmip.ResponseHeader {
	// KMIP 1.4 §6.18: the server SHOULD provide a globally unique Server
	// Correlation Value; the client's own value is for the server's logs and
	// is not echoed (OASIS TC-CS-CORVAL-1-14). It is sent only to clients
	// that use correlation values themselves: PyKMIP 0.10 cannot read a 1.4
	// response header that carries one. The encoder drops the field for
	// earlier versions.
	h := kmip.ResponseHeader{ProtocolVersion: version, TimeStamp: now}
	if hdr.ClientCorrelationValue != "" {
		h.ServerCorrelationValue = correlationValue()
	}
	return h
}

// correlationValue returns a random 128-bit value in hex.
func correlationValue() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return ""
	}
	return hex.EncodeToString(b[:])
}

// messageError is the answer to a request that cannot be executed at all.
func messageError(version kmip.ProtocolVersion, hdr kmip.RequestHeader, now time.Time, err error) *kmip.ResponseMessage {
	return &kmip.ResponseMessage{
		Header:    responseHeader(version, hdr, now),
		BatchItem: []kmip.ResponseBatchItem{failedItem(kmip.ResponseBatchItem{}, err)},
	}
}

// notExecuted is the answer to an item skipped because its request's
// context ended: its deadline passed, or the server is shutting down.
func notExecuted(err error) error {
	if errors.Is(err, context.Canceled) {
		return errUnavailable
	}
	return errDeadlinePassed
}

// everyItemFails answers each batch item of a request that is refused as a
// whole with err.
func everyItemFails(version kmip.ProtocolVersion, hdr kmip.RequestHeader, now time.Time, items []kmip.RequestBatchItem, err error) *kmip.ResponseMessage {
	resp := &kmip.ResponseMessage{Header: responseHeader(version, hdr, now), BatchItem: make([]kmip.ResponseBatchItem, len(items))}
	for i, bi := range items {
		resp.BatchItem[i] = failedItem(kmip.ResponseBatchItem{Operation: bi.Operation, UniqueBatchItemID: bi.UniqueBatchItemID}, err)
	}
	return resp
}

// errorResponse encodes a message-level error for a request that could not be
// decoded.
func errorResponse(version kmip.ProtocolVersion, err error) []byte {
	b, encErr := encodeResponse(messageError(version, kmip.RequestHeader{}, time.Now().UTC().Truncate(time.Second), err))
	if encErr != nil {
		panic("kmip: cannot encode a fixed error response")
	}
	return b
}

// encodeResponse serialises a response in its header's protocol version; the
// encoder drops every field that version does not define.
func encodeResponse(resp *kmip.ResponseMessage) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, errEncode
		}
	}()
	resp.Header.BatchCount = int32(len(resp.BatchItem))
	return ttlv.MarshalTTLV(resp), nil
}

var errEncode = errorf(kmip.ResultReasonGeneralFailure, "cannot encode response")
