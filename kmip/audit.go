package kmip

import (
	"context"
	"fmt"
	"reflect"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/kmsd/kmsd/cluster/audit"
)

// Auditor records one line per batch item; *audit.Log satisfies it.
type Auditor interface {
	// Ready is asked before an item runs; an error refuses the item
	// without running it.
	Ready() error
	// Record writes the item's line. An error means the line was not
	// written and the node fails closed: the item answers a failure
	// instead of its result.
	Record(audit.Record) error
}

// errAuditUnavailable answers an item when the audit log cannot be written
// and the node fails closed.
var errAuditUnavailable = errorf(kmip.ResultReasonGeneralFailure, "audit log unavailable")

// principal is whom a request acts for, as its audit line names it.
type principal struct{ tenant, role string }

// principalOf is the tenant and role of a request for the audit log, as
// the policy resolved them; empty for a message refused before that.
func principalOf(rc *reqCtx) principal {
	p := principal{tenant: rc.tenant}
	if rc.role != nil {
		p.role = rc.role.Name
	}
	return p
}

// remoteKey carries the client's address from the connection to the
// request's audit lines.
type remoteKey struct{}

// withRemote returns ctx carrying the client's network address.
func withRemote(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteKey{}, addr)
}

func remoteOf(ctx context.Context) string {
	s, _ := ctx.Value(remoteKey{}).(string)
	return s
}

// auditItem writes the line of batch item i and returns the answer to
// send: the item itself, or, when the line could not be written and the
// node fails closed, a failure that carries no payload (so no key material
// leaves without its line).
func (s *Service) auditItem(rc *reqCtx, i int, bi *kmip.RequestBatchItem, item kmip.ResponseBatchItem) kmip.ResponseBatchItem {
	if s.cfg.Audit == nil {
		return item
	}
	p := principalOf(rc)
	rec := audit.Record{
		Identity:  rc.identity,
		Tenant:    p.tenant,
		Role:      p.role,
		Operation: operationName(bi.Operation),
		Objects:   objectIDs(bi.RequestPayload, item.ResponsePayload),
		Success:   item.ResultStatus == kmip.ResultStatusSuccess,
		RequestID: rc.requestID,
		Item:      i,
		Remote:    rc.remote,
	}
	if !rec.Success {
		rec.Reason = reasonName(item.ResultReason)
	}
	if err := s.cfg.Audit.Record(rec); err != nil {
		return failedItem(item, errAuditUnavailable)
	}
	return item
}

// auditReady reports whether items may run: false when the node fails
// closed and its audit log cannot be written.
func (s *Service) auditReady() bool {
	return s.cfg.Audit == nil || s.cfg.Audit.Ready() == nil
}

// auditRefused writes the lines of a request refused as a whole: one per
// batch item (at most MaxBatchItems), each with the refusal resp answered.
// Nothing ran and nothing is disclosed, so a failure to write changes no
// answer.
func (s *Service) auditRefused(rc *reqCtx, req *kmip.RequestMessage, resp *kmip.ResponseMessage) {
	if s.cfg.Audit == nil || len(resp.BatchItem) == 0 {
		return
	}
	items := req.BatchItem[:min(len(req.BatchItem), MaxBatchItems)]
	if len(items) == 0 {
		items = []kmip.RequestBatchItem{{}}
	}
	for i := range items {
		answer := resp.BatchItem[0]
		if len(resp.BatchItem) == len(req.BatchItem) {
			answer = resp.BatchItem[i]
		}
		s.auditItem(rc, i, &items[i], answer)
	}
}

func operationName(op kmip.Operation) string {
	if n := ttlv.EnumStr(op); n != "" {
		return n
	}
	return fmt.Sprintf("0x%08X", uint32(op))
}

func reasonName(r kmip.ResultReason) string {
	if n := ttlv.EnumStr(r); n != "" {
		return n
	}
	return fmt.Sprintf("0x%08X", uint32(r))
}

// idFields are the payload fields that name objects, in the request and in
// the response (Locate's is a list).
var idFields = []string{"UniqueIdentifier", "PrivateKeyUniqueIdentifier", "PublicKeyUniqueIdentifier"}

// objectIDs lists the ids the request named and those its response created
// or returned, the request's first, each once.
func objectIDs(req, resp any) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, p := range []any{req, resp} {
		v := reflect.ValueOf(p)
		for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
			if v.IsNil() {
				break
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			continue
		}
		for _, name := range idFields {
			f := v.FieldByName(name)
			switch {
			case !f.IsValid():
			case f.Kind() == reflect.String:
				add(f.String())
			case f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.String:
				for j := range f.Len() {
					add(f.Index(j).String())
				}
			}
		}
	}
	return ids
}

// undoneIDs lists the objects of the items an Undo batch is about to
// revert, before the undo clears their payloads; nil without an Auditor.
func (s *Service) undoneIDs(reqs []kmip.RequestBatchItem, done []kmip.ResponseBatchItem) []string {
	if s.cfg.Audit == nil || len(done) == 0 {
		return nil
	}
	var ids []string
	for i := range done {
		ids = append(ids, objectIDs(reqs[i].RequestPayload, done[i].ResponsePayload)...)
	}
	return ids
}

// auditUndo writes the line of an Undo batch's undo, which the failure of
// item failed started: operation "Undo", the objects of the items before
// it, success when they answer Operation Undone.
func (s *Service) auditUndo(rc *reqCtx, failed int, ids []string, done []kmip.ResponseBatchItem) {
	if s.cfg.Audit == nil || len(done) == 0 {
		return
	}
	p := principalOf(rc)
	rec := audit.Record{
		Identity: rc.identity, Tenant: p.tenant, Role: p.role, Operation: "Undo", Objects: ids,
		Success: done[0].ResultStatus == kmip.ResultStatusOperationUndone, RequestID: rc.requestID, Item: failed, Remote: rc.remote,
	}
	if !rec.Success {
		rec.Reason = reasonName(kmip.ResultReasonGeneralFailure)
	}
	// The items' answers carry no payload any more; nothing to withhold.
	_ = s.cfg.Audit.Record(rec)
}

// auditInvalid writes the line of a request message that could not be
// decoded, and so has no batch items: no operation, reason Invalid
// Message.
func (s *Service) auditInvalid(identity, remote string) {
	if s.cfg.Audit == nil {
		return
	}
	p := principalOf(&reqCtx{identity: identity})
	_ = s.cfg.Audit.Record(audit.Record{
		Identity: identity, Tenant: p.tenant, Role: p.role, Reason: reasonName(kmip.ResultReasonInvalidMessage),
		RequestID: correlationValue(), Item: -1, Remote: remote,
	})
}
